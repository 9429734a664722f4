"""``persona db``: the database schema's revision, and upgrading it.

Run ``persona db upgrade`` once after installing a gateway whose schema is newer than
the database (a start refuses until then); with several gateways on one PostgreSQL,
run it from one of them, before starting the new version on the others.
"""

from __future__ import annotations

import typer

from gateway.commands.options import ConfigOpt, cli_settings, err
from gateway.core.errors import GatewayError

db_app = typer.Typer(help="Database schema: show the revision, upgrade to this version's.",
                     no_args_is_help=True)


def _open(config):
    from gateway.core.db import Database

    settings = cli_settings(config, load_models=False)
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database(settings.db_url)


@db_app.command("upgrade")
def upgrade(config: ConfigOpt = None) -> None:
    """Bring the database to this gateway's schema (creating it if empty)."""
    import gateway.storage  # noqa: F401  (every table module, for a new database)
    from gateway import schema

    db = _open(config)
    try:
        before = schema.current_revision(db)
        after = schema.upgrade(db)
    except GatewayError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    finally:
        db.close()
    typer.echo(f"database at revision {after}" + ("" if before == after else f" (was {before})"))


@db_app.command("current")
def current(config: ConfigOpt = None) -> None:
    """Print the database's revision and this gateway's (head); exit 1 if they differ."""
    from gateway import schema

    db = _open(config)
    try:
        have, want = schema.current_revision(db), schema.head_revision()
    finally:
        db.close()
    typer.echo(f"database: {have or 'none'}\ngateway:  {want}")
    if have != want:
        err.print("the database is not at this gateway's revision: run `persona db upgrade`")
        raise typer.Exit(1)
