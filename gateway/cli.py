"""The ``persona`` command: serve, keys, ingest, eval, experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from evals.cli import eval_app
from gateway.commands.campaigns import campaigns_app, worker
from gateway.commands.datakeys import master_new, rotate
from gateway.commands.db import db_app
from gateway.commands.experiments import experiments_app
from gateway.commands.ingest import ingest
from gateway.commands.options import ConfigOpt, cli_settings, err
from gateway.core.errors import GatewayError
from gateway.core.offline import offline_env

app = typer.Typer(help="Persona Gateway: personalized smart replies and subject lines.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
keys_app = typer.Typer(help="Manage API keys (only their hashes are stored) and the master "
                       "keys that wrap user data keys (rotate, master-new).",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")
keys_app.command("rotate")(rotate)
keys_app.command("master-new")(master_new)


SQLITE_ONE_PROCESS = (
    "--workers > 1 needs PostgreSQL: on SQLite (the default) the gateway runs as one "
    "process, since the store is one file on this machine's disk and several processes "
    "on it would still split the rate limits and the reply cache. To run several: set "
    "PERSONA_DATABASE_URL=postgresql+psycopg://user:password@host:5432/persona and "
    "PERSONA_REDIS_URL=redis://host:6379/0, run `persona db upgrade`, then `persona "
    "serve --workers N` (README, 'Scaling out'). Or run one worker: it serves requests "
    "concurrently (hosted model calls are async, up to PERSONA_HOSTED_LLM_CONCURRENCY at "
    "once; CPU work runs on PERSONA_CPU_WORKERS threads; the embedded model uses "
    "PERSONA_LOCAL_N_THREADS cores).")
NEEDS_REDIS = (
    "--workers > 1 on PostgreSQL needs PERSONA_REDIS_URL too (redis://host:6379/0): "
    "without it each worker keeps its own rate limits and reply cache, so a user "
    "forgotten through one worker could still be served a cached reply by another. "
    "Set it, or run one worker.")
WORKER_CONFIG_ENV = "PERSONA_WORKER_CONFIG"  # --config, for the worker processes


def worker_app():
    """The app of one ``serve --workers N`` process (uvicorn imports it by name): the
    settings come from the environment the workers inherit and ``--config``."""
    import os

    from gateway.app import create_app
    from gateway.core.settings import load_settings

    offline_env()
    config = os.environ.get(WORKER_CONFIG_ENV)
    return create_app(load_settings(Path(config) if config else None))


def _check_workers(settings, workers: int) -> None:
    """Several processes share state only through PostgreSQL and Redis."""
    if workers == 1:
        return
    if settings.database_url is None:
        err.print(f"[red]error:[/] {SQLITE_ONE_PROCESS}")
        raise typer.Exit(2)
    if not settings.redis_url:
        err.print(f"[red]error:[/] {NEEDS_REDIS}")
        raise typer.Exit(2)


def _check_router(settings) -> None:
    """A bad router config stops the start here, with its message, not in the lifespan."""
    if settings.router_config is None:
        return
    from gateway.llm.router import load_router_config

    try:
        load_router_config(settings.router_config, models=settings.models)
    except GatewayError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None


def _db(settings):
    from gateway.core.db import Database
    from gateway.storage import create_tables

    db = Database(settings.db_url)
    try:
        create_tables(db)
    except GatewayError as exc:
        db.close()
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    return db


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int, typer.Option(min=1, help=(
        "Server processes (uvicorn workers). More than 1 needs PostgreSQL and Redis "
        "(PERSONA_DATABASE_URL, PERSONA_REDIS_URL)."))] = 1,
    config: ConfigOpt = None,
) -> None:
    """Start the gateway (models load in the background; watch /readyz)."""
    offline_env()
    settings = cli_settings(config, host=host, port=port)
    _check_workers(settings, workers)
    _check_router(settings)
    from gateway.tracing import configure_logging

    configure_logging(settings)
    from gateway import auth

    db = _db(settings)
    _check_master_keys(settings, db)
    key = auth.create_first_admin_key(db)
    if key:
        typer.echo("First start: created tenant 'default' with an admin API key (shown once):")
        typer.echo(f"  export PERSONA_API_KEY={key}")
    db.close()

    import uvicorn

    from gateway.app import create_app

    typer.echo(f"Persona Gateway on http://{settings.host}:{settings.port} "
               f"(data in {settings.data_dir.resolve()}, models {settings.models}"
               + (f", {workers} workers)" if workers > 1 else ")"))
    if workers == 1:
        uvicorn.run(create_app(settings), **server_options(settings))
        return
    import os

    if config is not None:
        os.environ[WORKER_CONFIG_ENV] = str(config.resolve())
    # Each worker builds its app (and loads its models) from the same settings; the
    # FAISS caches are per worker, kept level with the shared store on every read.
    uvicorn.run("gateway.cli:worker_app", factory=True, workers=workers,
                **server_options(settings))


def _check_master_keys(settings, db) -> None:
    """A missing or wrong master key stops the start here, with its message."""
    from gateway.services import open_keyring

    try:
        open_keyring(settings, db)
    except GatewayError as exc:
        db.close()
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None


def server_options(settings) -> dict:
    """uvicorn's connection limits from settings. It has no header or body read
    timeout: the app bounds the body (``body_read_timeout_s``), a reverse proxy the
    headers (docs/deploy.md)."""
    return {
        "host": settings.host, "port": settings.port, "log_level": settings.log_level,
        "timeout_graceful_shutdown": 5,
        "http": "h11",  # the parser that enforces max_header_bytes
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "timeout_keep_alive": settings.keep_alive_timeout_s,
        "limit_concurrency": settings.max_connections,
        # X-Forwarded-For names the client only when it comes from a named proxy.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies) or None,
    }


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant name (created if new).")],
    scope: Annotated[str, typer.Option(help="client or admin.")] = "client",
    config: ConfigOpt = None,
) -> None:
    """Create an API key; it is printed once, as the last line."""
    from gateway import auth

    db = _db(cli_settings(config, load_models=False))
    try:
        key = auth.create_key(db, tenant=tenant, scope=scope)
    except GatewayError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    err.print(f"Created a {scope} key for tenant {tenant!r}. Store it now: it is not shown again.")
    typer.echo(key)


@keys_app.command("list")
def keys_list(config: ConfigOpt = None) -> None:
    """List keys (prefix, tenant, scope; never the key)."""
    from gateway import auth

    table = Table("id", "tenant", "prefix", "scope", "created", "status")
    for k in auth.list_keys(_db(cli_settings(config, load_models=False))):
        table.add_row(str(k.id), k.tenant, k.prefix + "…", k.scope,
                      k.created_at.strftime("%Y-%m-%d %H:%M"), "revoked" if k.revoked else "active")
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="Key id from 'persona keys list'.")],
                config: ConfigOpt = None) -> None:
    """Revoke a key; requests with it get 401 from now on."""
    from gateway import auth

    try:
        auth.revoke_key(_db(cli_settings(config, load_models=False)), key_id)
    except GatewayError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    typer.echo(f"revoked key {key_id}")


# Commands that live with their feature: ingest and experiments in gateway.commands,
# eval with evals.
# This module attaches them; neither imports it.
app.command()(ingest)
app.add_typer(db_app, name="db")
app.add_typer(eval_app, name="eval")
app.add_typer(experiments_app, name="experiments")
app.add_typer(campaigns_app, name="campaigns")
app.command()(worker)


def main() -> None:  # pragma: no cover
    offline_env()
    app()
