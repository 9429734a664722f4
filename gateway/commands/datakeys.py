"""``persona keys rotate`` and ``persona keys master-new``: the master keys that wrap
each user's data key (docs/security.md).

Rotation re-wraps the data keys only; no stored value is re-encrypted, so it takes a
moment per 10k users. Steps: put the new key first in ``PERSONA_MASTER_KEYS`` and keep
the old one after it (every replica), run ``persona keys rotate`` once, then drop the
old key from the setting.
"""

from __future__ import annotations

import typer

from gateway.commands.options import ConfigOpt, cli_settings, err
from gateway.core.errors import GatewayError


def master_new(key_id: str = typer.Option("k1", "--id", help="The new key's id (e.g. k2).")
               ) -> None:
    """Print a fresh master key (`id:base64url`) for PERSONA_MASTER_KEYS."""
    from gateway.core.crypto import MasterKeys, new_master_key

    try:
        key = new_master_key(key_id)
        MasterKeys.parse(key, source="--id")  # refuses an id the setting would refuse
    except GatewayError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    typer.echo(key)


def rotate(config: ConfigOpt = None) -> None:
    """Re-wrap every user's data key under the first key of PERSONA_MASTER_KEYS."""
    from gateway.core.db import Database
    from gateway.services import open_keyring
    from gateway.storage import create_tables

    settings = cli_settings(config, load_models=False)
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    try:
        create_tables(db)
        keys = open_keyring(settings, db)
        n = keys.rotate()
    except GatewayError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    finally:
        db.close()
    typer.echo(f"re-wrapped {n} data key(s) under master key {keys.master.active!r}; "
               "once every replica runs with it first, older master keys can be removed")
