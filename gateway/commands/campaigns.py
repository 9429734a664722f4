"""``persona worker`` (run campaign chunks off the Redis job queue) and ``persona
campaigns status|results`` (a campaign's progress and rows, from the database)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from gateway.commands.options import ConfigOpt, cli_settings, err, tenant_id_or_exit
from gateway.core.errors import GatewayError

campaigns_app = typer.Typer(help="Campaign jobs: progress and per-recipient results.",
                            no_args_is_help=True)
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant name (see 'persona keys list').")]
IdArg = Annotated[str, typer.Argument(help="Campaign id (POST /v1/campaigns returned it).")]


def worker(
    burst: Annotated[bool, typer.Option(help="Exit when the queue is empty.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Run campaign rows from the job queue at PERSONA_REDIS_URL (start one per machine
    or core; more workers finish a big audience sooner)."""
    from gateway.core.offline import offline_env

    offline_env()
    settings = cli_settings(config)
    if not settings.redis_url:
        err.print("[red]error:[/] persona worker takes campaign rows off the Redis job queue; "
                  "set PERSONA_REDIS_URL (the gateways' too). Without it the gateway runs "
                  "campaigns in its own process and needs no worker.")
        raise typer.Exit(2)
    from gateway.tracing import configure_logging

    configure_logging(settings)
    import asyncio

    from arq.worker import Worker

    from gateway.usecases.campaigns.worker import worker_options

    asyncio.set_event_loop(asyncio.new_event_loop())
    typer.echo(f"persona worker: campaign rows from {settings.redis_url} "
               f"({settings.campaign_concurrency} at once)")
    Worker(**worker_options(settings, burst=burst)).run()


def _services(config):
    from gateway.core.offline import offline_env
    from gateway.services import build_services

    offline_env()
    return build_services(cli_settings(config, load_models=False))


@campaigns_app.command("status")
def status(campaign_id: IdArg, tenant: TenantOpt, config: ConfigOpt = None) -> None:
    """Progress: total, done, failed, pending, state (JSON)."""
    from gateway.usecases.campaigns.jobs import get_campaign

    services = _services(config)
    try:
        got = get_campaign(services=services, tenant_id=tenant_id_or_exit(services, tenant),
                           campaign_id=campaign_id)
    except GatewayError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    finally:
        services.close()
    typer.echo(got.model_dump_json(indent=2))


@campaigns_app.command("results")
def results(campaign_id: IdArg, tenant: TenantOpt, config: ConfigOpt = None) -> None:
    """Every row as one JSON line, in audience order."""
    from gateway.usecases.campaigns.jobs import campaign_rows

    services = _services(config)
    try:
        tenant_id = tenant_id_or_exit(services, tenant)
        cursor = None
        while True:
            page = campaign_rows(services=services, tenant_id=tenant_id,
                                 campaign_id=campaign_id, cursor=cursor, limit=1000)
            for row in page.data:
                typer.echo(json.dumps(row.model_dump(mode="json")))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    except GatewayError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    finally:
        services.close()
