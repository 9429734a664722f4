"""``persona experiments …``: the admin API's experiment calls on the local database.

The same use cases as ``/v1/experiments`` (so a ramp here takes effect on the next
request of every running replica that shares the database).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.core.errors import GatewayError

experiments_app = typer.Typer(help="A/B experiments, staged rollout and the kill switch.",
                              no_args_is_help=True)
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant name (see 'persona keys list').")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Settings file.")]
NameArg = Annotated[str, typer.Argument(help="Experiment name.")]


@contextmanager
def _session(config: Path | None, tenant: str):
    """(services, tenant id); every GatewayError becomes an error line and exit code 2."""
    from gateway.commands.options import cli_settings, tenant_id_or_exit
    from gateway.core.offline import offline_env
    from gateway.services import build_services

    offline_env()
    err = Console(stderr=True)
    services = build_services(cli_settings(config, load_models=False))
    try:
        tenant_id = tenant_id_or_exit(services, tenant)
        yield services, tenant_id
    except GatewayError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    finally:
        services.close()


def _show(exp) -> None:
    table = Table(title=f"{exp.name} ({exp.task}, {exp.status}, epoch {exp.epoch})")
    for col in ("variant", "percent", "rolled back", "overrides"):
        table.add_column(col)
    for v in exp.variants:
        table.add_row(v.name, f"{v.percent:g}%", "yes" if v.rolled_back else "",
                      json.dumps(v.overrides))
    Console().print(table)


@experiments_app.command("create")
def create(spec: Annotated[Path, typer.Argument(help="JSON file: the POST /v1/experiments body.")],
           tenant: TenantOpt, config: ConfigOpt = None) -> None:
    """Create (and by default start) an experiment from a JSON spec."""
    from pydantic import ValidationError

    from gateway.schemas.experiments import ExperimentIn
    from gateway.usecases.experiments.manage import create_experiment

    try:
        body = ExperimentIn.model_validate_json(spec.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        Console(stderr=True).print(f"[red]error:[/] {spec}: {exc}")
        raise typer.Exit(2) from None
    with _session(config, tenant) as (services, tid):
        _show(create_experiment(services=services, tenant_id=tid, spec=body))


@experiments_app.command("list")
def list_(tenant: TenantOpt, config: ConfigOpt = None) -> None:
    """The tenant's experiments."""
    from gateway.usecases.experiments.manage import list_experiments

    with _session(config, tenant) as (services, tid):
        for exp in list_experiments(services=services, tenant_id=tid):
            _show(exp)


@experiments_app.command("ramp")
def ramp(name: NameArg, variant: Annotated[str, typer.Argument(help="Treatment to ramp.")],
         percent: Annotated[float, typer.Argument(help="Percent of newly assigned users.")],
         tenant: TenantOpt, config: ConfigOpt = None) -> None:
    """Give a treatment PERCENT of newly assigned users (assigned users never move)."""
    from gateway.usecases.experiments.manage import ramp as do_ramp

    with _session(config, tenant) as (services, tid):
        _show(do_ramp(services=services, tenant_id=tid, name=name, variant=variant,
                      percent=percent))


@experiments_app.command("rollback")
def rollback(name: NameArg, tenant: TenantOpt,
             variant: Annotated[str | None, typer.Option(help="Only this treatment.")] = None,
             config: ConfigOpt = None) -> None:
    """Serve a treatment's users (default: every treatment's) under control."""
    from gateway.usecases.experiments.manage import rollback as do_rollback

    with _session(config, tenant) as (services, tid):
        _show(do_rollback(services=services, tenant_id=tid, name=name, variant=variant))


@experiments_app.command("stop")
def stop(name: NameArg, tenant: TenantOpt, config: ConfigOpt = None) -> None:
    """Stop serving the experiment (results stay)."""
    from gateway.usecases.experiments.manage import set_status

    with _session(config, tenant) as (services, tid):
        _show(set_status(services=services, tenant_id=tid, name=name, running=False))


@experiments_app.command("start")
def start(name: NameArg, tenant: TenantOpt, config: ConfigOpt = None) -> None:
    """Start a stopped experiment again (assignments are kept)."""
    from gateway.usecases.experiments.manage import set_status

    with _session(config, tenant) as (services, tid):
        _show(set_status(services=services, tenant_id=tid, name=name, running=True))


@experiments_app.command("kill-switch")
def kill_switch(task: Annotated[str, typer.Argument(help="smart_replies or subject_lines.")],
                tenant: TenantOpt,
                on: Annotated[bool, typer.Option("--on/--off", help="Rules only, or back.")] = True,
                config: ConfigOpt = None) -> None:
    """Serve a task from rules only (no model, no experiment), or switch it back."""
    from gateway.usecases.experiments.manage import set_kill_switch

    if task not in ("smart_replies", "subject_lines"):
        Console(stderr=True).print("[red]error:[/] TASK must be smart_replies or subject_lines")
        raise typer.Exit(2)
    with _session(config, tenant) as (services, tid):
        got = set_kill_switch(services=services, tenant_id=tid, task=task, rules_only=on)
    typer.echo(f"{got.task}: {'rules only' if got.rules_only else 'normal'}")


@experiments_app.command("results")
def results(name: NameArg, tenant: TenantOpt,
            as_json: Annotated[bool, typer.Option("--json", help="The API's JSON.")] = False,
            config: ConfigOpt = None) -> None:
    """Rates, lift over control, SRM check and the stopping rule's decision."""
    from gateway.usecases.experiments.results import experiment_results

    with _session(config, tenant) as (services, tid):
        got = experiment_results(services=services, tenant_id=tid, name=name)
    if as_json:
        typer.echo(got.model_dump_json(indent=2))
        return
    out = Console()
    for m in got.metrics:
        table = Table(title=f"{m.name}{' (primary)' if m.primary else ''}: {m.description}")
        for col in ("variant", "rate [CI]", "successes/trials", "users", "lift [CI]"):
            table.add_column(col)
        for v, r in m.rates.items():
            c = m.vs_control.get(v)
            lift = ("" if c is None else "n/a" if c.lift is None else
                    f"{c.lift:+.1%} [{c.lift_ci[0]:+.1%}, {c.lift_ci[1]:+.1%}]"
                    + (" *" if c.significant else ""))
            table.add_row(v, f"{r.rate:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}]",
                          f"{r.successes}/{r.trials}", str(r.users), lift)
        out.print(table)
    srm = got.sample_ratio
    out.print(f"sample ratio: chi2 {srm.chi2:.2f} on {srm.dof} df, p = {srm.p_value:.3g}"
              f"{'  MISMATCH' if srm.mismatch else ''}")
    out.print(f"[bold]{got.stopping.decision}[/]: {got.stopping.message}")


@experiments_app.command("report")
def report(name: NameArg, tenant: TenantOpt,
           out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path(
               "experiment-report.html"),
           config: ConfigOpt = None) -> None:
    """Write the results as a self-contained HTML report with plots."""
    from evals.experiment_report import render_report
    from gateway.usecases.experiments.results import experiment_results

    with _session(config, tenant) as (services, tid):
        got = experiment_results(services=services, tenant_id=tid, name=name)
    out.write_text(render_report(got), encoding="utf-8")
    typer.echo(f"wrote {out}")
