"""Feature commands attached to the ``persona`` CLI (ingest, eval)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    try:
        from gateway.commands.ingest import ingest
    except ImportError:  # feature module not present
        ingest = None
    if ingest is not None:
        app.command()(ingest)
    try:
        from evals.cli import eval_app
    except ImportError:
        eval_app = None
    if eval_app is not None:
        app.add_typer(eval_app, name="eval")
