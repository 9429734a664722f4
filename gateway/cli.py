"""The ``persona`` command: serve, keys, ingest, eval."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.errors import GatewayError
from gateway.offline import offline_env

app = typer.Typer(help="Persona Gateway: personalized smart replies and subject lines.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
keys_app = typer.Typer(help="Manage API keys (only their hashes are stored).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
err = Console(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Settings file (KEY=value lines, PERSONA_ prefix).")]


def _settings(config: Path | None, **overrides):
    from pydantic import ValidationError

    from gateway.settings import load_settings

    try:
        return load_settings(config, **{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"]) or "settings"
            err.print(f"[red]invalid setting[/] {field}: {e['msg']}")
        raise typer.Exit(2) from None
    except GatewayError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None


def _db(settings):
    from gateway.db import Database

    db = Database(settings.db_path)
    db.create_all()
    return db


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Start the gateway (models load in the background; watch /readyz)."""
    offline_env()
    settings = _settings(config, host=host, port=port)
    from gateway.tracing import configure_logging

    configure_logging(settings)
    from gateway import auth

    db = _db(settings)
    if not auth.has_any_key(db):
        key = auth.create_key(db, tenant="default", scope="admin")
        typer.echo("First start: created tenant 'default' with an admin API key (shown once):")
        typer.echo(f"  export PERSONA_API_KEY={key}")
    db.close()

    import uvicorn

    from gateway.app import create_app

    typer.echo(f"Persona Gateway on http://{settings.host}:{settings.port} "
               f"(data in {settings.data_dir.resolve()}, models {settings.models})")
    uvicorn.run(create_app(settings), **server_options(settings))


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

    db = _db(_settings(config, load_models=False))
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
    for k in auth.list_keys(_db(_settings(config, load_models=False))):
        table.add_row(str(k.id), k.tenant, k.prefix + "…", k.scope,
                      k.created_at.strftime("%Y-%m-%d %H:%M"), "revoked" if k.revoked else "active")
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="Key id from 'persona keys list'.")],
                config: ConfigOpt = None) -> None:
    """Revoke a key; requests with it get 401 from now on."""
    from gateway import auth

    try:
        auth.revoke_key(_db(_settings(config, load_models=False)), key_id)
    except GatewayError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    typer.echo(f"revoked key {key_id}")


def _register_subcommands() -> None:
    """Commands that live with their feature (ingest with the history store, eval with evals)."""
    from gateway.commands import register

    register(app)


_register_subcommands()


def main() -> None:  # pragma: no cover
    offline_env()
    app()
