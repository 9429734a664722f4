"""What every ``persona`` command shares: the ``--config`` option and loading settings.

Used by ``gateway.cli``, the feature commands here and ``evals.cli`` alike, so a bad
setting reads the same everywhere and exits 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from gateway.core.errors import GatewayError
from gateway.core.settings import Settings, load_settings

err = Console(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="Settings file (KEY=value lines, PERSONA_ prefix).")]


def print_invalid_settings(exc: ValidationError) -> None:
    for e in exc.errors():
        field = ".".join(str(p) for p in e["loc"]) or "settings"
        err.print(f"[red]invalid setting[/] {field}: {e['msg']}")


def cli_settings(config: Path | None, **overrides) -> Settings:
    """Settings from the environment, ``config`` and the options given (None = not
    given); on a bad value, the reasons on stderr and exit code 2."""
    try:
        return load_settings(config, **{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        print_invalid_settings(exc)
        raise typer.Exit(2) from None
    except GatewayError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None


def tenant_id_or_exit(services, tenant: str) -> int:
    """The id of tenant ``tenant``, or an error line naming the fix and exit code 2."""
    from sqlalchemy import select

    from gateway.tables import Tenant

    with services.db.session() as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.name == tenant))
    if tenant_id is None:
        err.print(f"[red]error:[/] unknown tenant {tenant!r}; create it with "
                  f"'persona keys create --tenant {tenant}'")
        raise typer.Exit(2)
    return tenant_id
