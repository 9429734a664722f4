"""Create, list, ramp, roll back, start and stop experiments; the per-task kill switch.

Every change is a database write, read by the next request on every replica
(``assign.resolve``). Each allocation change opens a new *epoch* (logged with the
allocation it set), which the sample-ratio check stratifies by.
"""

from __future__ import annotations

import secrets
from dataclasses import fields

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.core.db import utcnow
from gateway.core.errors import BadInput, Conflict, NotFound
from gateway.schemas.experiments import (
    CONTROL,
    ExperimentIn,
    ExperimentOut,
    KillSwitchOut,
    VariantOut,
)
from gateway.services import Services
from gateway.tables import Experiment, KillSwitch
from gateway.usecases.experiments.assign import BUCKETS, build_policy, treatments
from gateway.usecases.subjects.rank import Weights

_WEIGHT_NAMES = {f.name for f in fields(Weights)}


def _bp(percent: float) -> int:
    return round(percent * BUCKETS / 100)


def _check_overrides(services: Services, task: str, name: str, overrides: dict) -> None:
    where = f"variants.{name}.overrides"
    if overrides.get("samples") is not None and task != "smart_replies":
        raise BadInput(f"{where}.samples: only smart replies take several model samples; "
                       "remove it", field=f"{where}.samples")
    weights = overrides.get("subject_weights")
    if weights is not None:
        if task != "subject_lines":
            raise BadInput(f"{where}.subject_weights: only subject lines have a ranker; "
                           "remove it", field=f"{where}.subject_weights")
        unknown = sorted(set(weights) - _WEIGHT_NAMES)
        if unknown:
            raise BadInput(f"{where}.subject_weights: unknown weight(s) {unknown}; use "
                           f"{sorted(_WEIGHT_NAMES)}", field=f"{where}.subject_weights")
    configured = services.settings.models
    for m in overrides.get("models") or ():
        if m not in configured:
            raise BadInput(f"{where}.models: {m!r} is not in the configured model chain "
                           f"{configured}; add it to PERSONA_MODELS first",
                           field=f"{where}.models")
    try:
        build_policy(task, overrides)
    except ValueError as exc:
        raise BadInput(f"{where}: {exc}", field=where) from None


def _out(exp: Experiment) -> ExperimentOut:
    return ExperimentOut(
        name=exp.name, task=exp.task, status=exp.status, epoch=exp.epoch,
        variants=[VariantOut(
            name=v["name"], overrides=v["overrides"],
            percent=(100 - sum(exp.allocation.values()) * 100 / BUCKETS
                     if v["name"] == CONTROL else exp.allocation.get(v["name"], 0) * 100 / BUCKETS),
            rolled_back=v["name"] in exp.rolled_back) for v in exp.variants],
        min_detectable_lift=exp.min_detectable_lift, baseline_rate=exp.baseline_rate,
        alpha=exp.alpha, power=exp.power, created_at=exp.created_at, stopped_at=exp.stopped_at)


def _log_epoch(exp: Experiment, change: str) -> None:
    exp.epoch = (exp.epoch or 0) + 1 if exp.epochs else 0
    exp.epochs = [*exp.epochs, {"epoch": exp.epoch, "allocation": dict(exp.allocation),
                                "rolled_back": list(exp.rolled_back),
                                "at": utcnow().isoformat(), "change": change}]


def _check_no_other_running(s, tenant_id: int, task: str, name: str) -> None:
    other = s.scalar(select(Experiment.name).where(
        Experiment.tenant_id == tenant_id, Experiment.task == task,
        Experiment.status == "running", Experiment.name != name))
    if other is not None:
        raise Conflict(f"experiment {other!r} is already running on {task}; stop it first "
                       f"(POST /v1/experiments/{other}/stop)")


def create_experiment(*, services: Services, tenant_id: int, spec: ExperimentIn) -> ExperimentOut:
    variants = [{"name": v.name, "overrides": v.overrides.model_dump(exclude_none=True)}
                for v in spec.variants]
    names = [v["name"] for v in variants]
    if len(set(names)) != len(names):
        raise BadInput("variants: variant names must be distinct", field="variants")
    if CONTROL not in names:
        variants.insert(0, {"name": CONTROL, "overrides": {}})
    for v in variants:
        _check_overrides(services, spec.task, v["name"], v["overrides"])
    if not [v for v in variants if v["name"] != CONTROL]:
        raise BadInput("variants: add at least one treatment besides control", field="variants")
    allocation = {}
    for name, pct in spec.allocation.items():
        if name == CONTROL or name not in names:
            raise BadInput(f"allocation.{name}: name a treatment of this experiment; control "
                           "takes whatever the treatments leave", field=f"allocation.{name}")
        if not 0 <= pct <= 100:
            raise BadInput(f"allocation.{name}: a percent between 0 and 100",
                           field=f"allocation.{name}")
        allocation[name] = _bp(pct)
    if sum(allocation.values()) > BUCKETS:
        raise BadInput("allocation: the treatments' percents add up to more than 100",
                       field="allocation")
    exp = Experiment(tenant_id=tenant_id, name=spec.name, task=spec.task,
                     status="running" if spec.start else "stopped", salt=secrets.token_hex(8),
                     variants=variants, allocation=allocation, rolled_back=[], epochs=[],
                     min_detectable_lift=spec.min_detectable_lift,
                     baseline_rate=spec.baseline_rate, alpha=spec.alpha, power=spec.power)
    _log_epoch(exp, "create")
    try:
        with services.db.session() as s:
            if spec.start:
                _check_no_other_running(s, tenant_id, spec.task, spec.name)
            s.add(exp)
    except IntegrityError:
        with services.db.session() as s:
            taken = s.scalar(select(Experiment.id).where(Experiment.tenant_id == tenant_id,
                                                         Experiment.name == spec.name))
            if taken is None:  # the running-per-task index: a racing start won
                _check_no_other_running(s, tenant_id, spec.task, spec.name)
        raise Conflict(f"an experiment named {spec.name!r} exists; pick another name "
                       "(names stay taken after an experiment stops)", field="name") from None
    return _out(exp)


def load_experiment(s, tenant_id: int, name: str) -> Experiment:
    exp = s.scalar(select(Experiment).where(Experiment.tenant_id == tenant_id,
                                            Experiment.name == name))
    if exp is None:
        raise NotFound(f"no experiment named {name!r} for this tenant; list them with "
                       "GET /v1/experiments")
    return exp


def get_experiment(*, services: Services, tenant_id: int, name: str) -> ExperimentOut:
    with services.db.session() as s:
        return _out(load_experiment(s, tenant_id, name))


def list_experiments(*, services: Services, tenant_id: int) -> list[ExperimentOut]:
    with services.db.session() as s:
        rows = s.scalars(select(Experiment).where(Experiment.tenant_id == tenant_id)
                         .order_by(Experiment.id)).all()
        return [_out(e) for e in rows]


def ramp(*, services: Services, tenant_id: int, name: str, variant: str,
         percent: float) -> ExperimentOut:
    """Give ``variant`` ``percent`` of newly assigned users (assigned users keep their
    variant); ramping a rolled-back variant serves its users under it again."""
    with services.db.session() as s:
        exp = load_experiment(s, tenant_id, name)
        if variant not in treatments(exp):
            raise BadInput(f"variant: {variant!r} is not a treatment of {name} (control takes "
                           f"the rest); use one of {treatments(exp)}", field="variant")
        allocation = {**exp.allocation, variant: _bp(percent)}
        if sum(allocation.values()) > BUCKETS:
            raise BadInput("percent: the treatments would add up to more than 100%; ramp "
                           "another one down first", field="percent")
        exp.allocation = allocation
        exp.rolled_back = [v for v in exp.rolled_back if v != variant]
        _log_epoch(exp, f"ramp {variant} {percent:g}%")
        return _out(exp)


def rollback(*, services: Services, tenant_id: int, name: str,
             variant: str | None = None) -> ExperimentOut:
    """Serve ``variant`` (every treatment when None) to nobody, from the next request:
    its users, already assigned or not, are served control."""
    with services.db.session() as s:
        exp = load_experiment(s, tenant_id, name)
        targets = [variant] if variant else treatments(exp)
        for v in targets:
            if v not in treatments(exp):
                raise BadInput(f"variant: {v!r} is not a treatment of {name}; use one of "
                               f"{treatments(exp)}", field="variant")
        exp.allocation = {k: (0 if k in targets else n) for k, n in exp.allocation.items()}
        exp.rolled_back = sorted(set(exp.rolled_back) | set(targets))
        _log_epoch(exp, f"rollback {', '.join(targets)}")
        return _out(exp)


def set_status(*, services: Services, tenant_id: int, name: str, running: bool) -> ExperimentOut:
    """Stop (nobody is served under it; results stay) or start it again. Starting is
    exclusive per tenant and task: the check names the other experiment, and the
    database's unique index (``uq_experiment_running_task``) refuses a racing start."""
    task = None
    try:
        with services.db.session() as s:
            exp = load_experiment(s, tenant_id, name)
            task = exp.task
            if running:
                _check_no_other_running(s, tenant_id, task, name)
            exp.status = "running" if running else "stopped"
            exp.stopped_at = None if running else utcnow()
            out = _out(exp)
    except IntegrityError:
        with services.db.session() as s:
            _check_no_other_running(s, tenant_id, task, name)
        raise Conflict(f"another experiment started on {task} at the same time; list "
                       "them with GET /v1/experiments and stop one first") from None
    return out


def set_kill_switch(*, services: Services, tenant_id: int, task: str,
                    rules_only: bool) -> KillSwitchOut:
    with services.db.session() as s:
        s.merge(KillSwitch(tenant_id=tenant_id, task=task, rules_only=rules_only,
                           updated_at=utcnow()))
    return KillSwitchOut(task=task, rules_only=rules_only)


def list_kill_switches(*, services: Services, tenant_id: int) -> list[KillSwitchOut]:
    with services.db.session() as s:
        on = {k.task: k.rules_only for k in s.scalars(
            select(KillSwitch).where(KillSwitch.tenant_id == tenant_id))}
    return [KillSwitchOut(task=t, rules_only=on.get(t, False))
            for t in ("smart_replies", "subject_lines")]
