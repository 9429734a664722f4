"""Feature commands attached to the ``persona`` CLI (ingest, eval, experiments)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from evals.cli import eval_app
    from gateway.commands.experiments import experiments_app
    from gateway.commands.ingest import ingest

    app.command()(ingest)
    app.add_typer(eval_app, name="eval")
    app.add_typer(experiments_app, name="experiments")
