"""``persona ingest``: bulk-load a user's history from a JSONL export or an mbox.

It runs the same use case as ``POST /v1/users/{user_id}/history`` (same checks,
same all-or-nothing batches, same idempotency), so re-running an ingest is safe:
items already stored with the same content are counted as skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from gateway.commands.sources import Record, count_jsonl, detect_format, read_jsonl, read_mbox
from gateway.core.errors import GatewayError


@dataclass
class Summary:
    accepted: int = 0
    skipped: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)


class _Batcher:
    """Groups records into batches for ``ingest_items``; a failing batch is retried one
    item at a time so a single bad record is reported by its line, not the batch."""

    def __init__(self, send, summary: Summary, size: int):
        self.send = send
        self.summary = summary
        self.size = size
        self.pending: list[Record] = []
        self.pending_ids: dict[str, Record] = {}

    def add(self, rec: Record) -> None:
        if rec.error:
            self.summary.errors.append((rec.where, rec.error))
            return
        if rec.skipped:
            self.summary.skipped += 1
            return
        first = self.pending_ids.get(rec.item.id)
        if first is not None:  # same id twice in one batch: the batch would be refused
            if first.item == rec.item:
                self.summary.skipped += 1
            else:
                msg = f"id {rec.item.id!r} repeats {first.where} with different content"
                self.summary.errors.append((rec.where, msg))
            return
        self.pending.append(rec)
        self.pending_ids[rec.item.id] = rec
        if len(self.pending) >= self.size:
            self.flush()

    def flush(self) -> None:
        batch, self.pending, self.pending_ids = self.pending, [], {}
        if not batch:
            return
        try:
            self._count(self.send([r.item for r in batch]))
        except GatewayError:
            for rec in batch:
                try:
                    self._count(self.send([rec.item]))
                except GatewayError as exc:  # "items.0.text: ..." -> "text: ..."
                    self.summary.errors.append((rec.where, exc.message.replace("items.0.", "", 1)))

    def _count(self, result) -> None:
        self.summary.accepted += len(result.added)
        self.summary.skipped += len(result.unchanged)


def ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="JSONL (one API history item per line) or mbox.")],
    tenant: Annotated[str, typer.Option(help="Tenant name (see 'persona keys list').")],
    user: Annotated[str, typer.Option(help="User id whose history this is.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl, mbox, or auto.")] = "auto",
    sender: Annotated[str | None, typer.Option(
        help="mbox only: ingest only messages From this address (others give context).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000,
                                            help="Items per transaction.")] = 256,
    config: Annotated[Path | None, typer.Option(
        "--config", help="Settings file (KEY=value lines, PERSONA_ prefix).")] = None,
) -> None:
    """Bulk-load a user's history; prints accepted / skipped / errors (by line)."""

    from embeddings.items import check_user_id
    from gateway.commands.options import cli_settings, tenant_id_or_exit
    from gateway.core.offline import offline_env
    from gateway.services import build_services
    from gateway.usecases.history import ingest_items

    offline_env()
    out, err = Console(), Console(stderr=True)
    try:
        check_user_id(user)
    except GatewayError as exc:
        err.print(f"[red]error:[/] --user: {exc.message}")
        raise typer.Exit(2) from None
    fmt = detect_format(file) if fmt == "auto" else fmt
    if fmt not in ("jsonl", "mbox"):
        err.print("[red]error:[/] --format must be jsonl, mbox or auto")
        raise typer.Exit(2)
    settings = cli_settings(config, load_models=False)
    services = build_services(settings)
    try:
        tenant_id = tenant_id_or_exit(services, tenant)
        services.embedder.load()
        services.history.open()
        batch_size = min(batch_size, settings.max_batch_items)
        if fmt == "jsonl":
            total, records = count_jsonl(file), read_jsonl(file)
        else:
            with err.status("reading mbox…"):
                total, records = read_mbox(file, sender=sender,
                                           max_context_chars=settings.max_text_chars)
        summary = Summary()
        batcher = _Batcher(lambda items: ingest_items(services=services, tenant_id=tenant_id,
                                                      user_id=user, items=items),
                           summary, batch_size)
        # An offline load: let the embedder use every core (the gateway's setting is 1
        # thread, which suits serving requests side by side, not a bulk load).
        with (
            services.embedder.bulk(os.cpu_count() or 1),
            Progress(TextColumn("[bold]ingest[/] {task.description}"), BarColumn(),
                     MofNCompleteColumn(), TimeRemainingColumn(), console=err) as bar,
        ):
            task = bar.add_task(file.name, total=total)
            for rec in records:
                batcher.add(rec)
                bar.advance(task)
            batcher.flush()
    finally:
        services.close()
    _report(out, summary, fmt=fmt, tenant=tenant, user=user)
    if summary.errors:
        raise typer.Exit(1)


def _report(out: Console, summary: Summary, *, fmt: str, tenant: str, user: str) -> None:
    table = Table(title=f"ingest {fmt} → tenant {tenant!r}, user {user!r}")
    table.add_column("accepted", justify="right")
    table.add_column("skipped", justify="right")
    table.add_column("errors", justify="right")
    table.add_row(str(summary.accepted), str(summary.skipped), str(len(summary.errors)))
    out.print(table)
    for where, msg in summary.errors[:50]:
        out.print(f"  {where}: {msg}", markup=False, highlight=False)
    if len(summary.errors) > 50:
        out.print(f"  … and {len(summary.errors) - 50} more errors")
