"""Experiments, staged rollout and kill switch (admin keys): parse and delegate."""

from __future__ import annotations

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from gateway.deps import AdminDep, ReadyServicesDep
from gateway.schemas.common import ErrorBody
from gateway.schemas.experiments import (
    NAME_PATTERN,
    ExperimentIn,
    ExperimentList,
    ExperimentOut,
    KillSwitchIn,
    KillSwitchList,
    KillSwitchOut,
    RampIn,
    ResultsOut,
    RollbackIn,
    Task,
)
from gateway.usecases.experiments import manage
from gateway.usecases.experiments.results import experiment_results

router = APIRouter(tags=["experiments"])
_404 = {404: {"model": ErrorBody, "description": "No experiment of that name for this tenant"}}
_409 = {409: {"model": ErrorBody, "description": "Name taken, or another experiment runs on the task"}}
Name = Path(pattern=NAME_PATTERN, description="The experiment's name.")


@router.post("/experiments", status_code=201, response_model=ExperimentOut, responses=_409,
             summary="Create (and by default start) an experiment on one task")
def create(body: ExperimentIn, principal: AdminDep, services: ReadyServicesDep) -> ExperimentOut:
    return manage.create_experiment(services=services, tenant_id=principal.tenant_id, spec=body)


@router.get("/experiments", response_model=ExperimentList, summary="The tenant's experiments")
def list_all(principal: AdminDep, services: ReadyServicesDep) -> ExperimentList:
    return ExperimentList(data=manage.list_experiments(services=services,
                                                       tenant_id=principal.tenant_id))


@router.get("/experiments/{name}", response_model=ExperimentOut, responses=_404,
            summary="One experiment: variants, allocation, status")
def get_one(principal: AdminDep, services: ReadyServicesDep, name: str = Name) -> ExperimentOut:
    return manage.get_experiment(services=services, tenant_id=principal.tenant_id, name=name)


@router.post("/experiments/{name}/ramp", response_model=ExperimentOut, responses=_404,
             summary="Set a treatment's share of newly assigned users (next request, every replica)")
def ramp(body: RampIn, principal: AdminDep, services: ReadyServicesDep,
         name: str = Name) -> ExperimentOut:
    return manage.ramp(services=services, tenant_id=principal.tenant_id, name=name,
                       variant=body.variant, percent=body.percent)


@router.post("/experiments/{name}/rollback", response_model=ExperimentOut, responses=_404,
             summary="Serve a treatment's users (or every treatment's) under control")
def rollback(body: RollbackIn, principal: AdminDep, services: ReadyServicesDep,
             name: str = Name) -> ExperimentOut:
    return manage.rollback(services=services, tenant_id=principal.tenant_id, name=name,
                           variant=body.variant)


@router.post("/experiments/{name}/stop", response_model=ExperimentOut, responses=_404,
             summary="Stop serving the experiment (its results stay)")
def stop(principal: AdminDep, services: ReadyServicesDep, name: str = Name) -> ExperimentOut:
    return manage.set_status(services=services, tenant_id=principal.tenant_id, name=name,
                             running=False)


@router.post("/experiments/{name}/start", response_model=ExperimentOut,
             responses={**_404, **_409}, summary="Start (or restart) serving the experiment")
def start(principal: AdminDep, services: ReadyServicesDep, name: str = Name) -> ExperimentOut:
    return manage.set_status(services=services, tenant_id=principal.tenant_id, name=name,
                             running=True)


@router.get("/experiments/{name}/results", response_model=ResultsOut, responses=_404,
            summary="Per-variant rates, lift over control, SRM check and the stopping rule")
def results(principal: AdminDep, services: ReadyServicesDep, name: str = Name) -> ResultsOut:
    return experiment_results(services=services, tenant_id=principal.tenant_id, name=name)


# Default response class: errors stay documented (and answered) as JSON; the page is text/html.
@router.get("/experiments/{name}/report", response_model=None,
            responses={**_404, 200: {"description": "The HTML report",
                                     "content": {"text/html": {"schema": {"type": "string"}}}}},
            summary="The results as a self-contained HTML report with plots")
def report(principal: AdminDep, services: ReadyServicesDep, name: str = Name) -> HTMLResponse:
    from evals.experiment_report import render_report  # matplotlib: loaded on first use

    got = experiment_results(services=services, tenant_id=principal.tenant_id, name=name)
    return HTMLResponse(render_report(got))


@router.get("/kill-switches", response_model=KillSwitchList,
            summary="Which tasks are switched to rules only")
def kill_switches(principal: AdminDep, services: ReadyServicesDep) -> KillSwitchList:
    return KillSwitchList(data=manage.list_kill_switches(services=services,
                                                         tenant_id=principal.tenant_id))


@router.put("/kill-switches/{task}", response_model=KillSwitchOut,
            summary="Switch a task to rules only (or back), from the next request")
def put_kill_switch(task: Task, body: KillSwitchIn, principal: AdminDep,
                    services: ReadyServicesDep) -> KillSwitchOut:
    return manage.set_kill_switch(services=services, tenant_id=principal.tenant_id, task=task,
                                  rules_only=body.rules_only)
