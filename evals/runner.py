"""Run variants over examples, resumably.

Every finished example is appended to ``DIR/results.jsonl`` as one JSON line and
fsynced before the next is counted done, so a crash at example 900 of 1,000
loses at most the examples in flight. On restart, (variant, id) pairs already
in the file are skipped; records of failed requests are retried. A torn last
line (crash mid-write) is cut off before appending.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from evals.loaders import Dataset, Example
from evals.scoring import SCORE_VERSION, Evaluator
from evals.targets import Target, TargetUnavailable
from evals.variants import Variant
from gateway.core.errors import ConfigError

RESULTS = "results.jsonl"
MANIFEST = "run.json"
RESPONSE_KEYS = ("triggered", "suggestions", "subject_lines", "personalized", "context_ids",
                 "model", "prompt_version", "fallback_reason", "latency_ms", "request_id")


class ResultStore:
    """Append-only JSONL of finished examples; the last record of a key wins."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[tuple[str, str], dict] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._load()
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held for the run

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):  # torn final line from a crash mid-write: drop it
            with open(self.path, "r+b") as f:
                f.truncate(keep)
                f.flush()
                os.fsync(f.fileno())
        for n, line in enumerate(data[:keep].splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                self.records[(rec["variant"], rec["id"])] = rec
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ConfigError(f"{self.path}:{n} is not a result record; remove the line "
                                  "or use a fresh --out directory") from None

    def done(self, variant: str, example_id: str) -> bool:
        rec = self.records.get((variant, example_id))
        return rec is not None and rec.get("error") is None

    def append(self, record: dict) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records[(record["variant"], record["id"])] = record

    def for_variant(self, variant: str, examples: list[Example]) -> list[dict]:
        return [self.records[(variant, e.id)] for e in examples
                if (variant, e.id) in self.records]

    def close(self) -> None:
        self._file.close()


def check_manifest(out: Path, manifest: dict) -> None:
    """Refuse to resume into a directory written for other data, task, seed or
    request settings: its results would not be comparable with the new ones."""
    path = out / MANIFEST
    if path.exists():
        old = json.loads(path.read_text())
        for key in sorted(set(old) | set(manifest)):
            if old.get(key) != manifest.get(key):
                raise ConfigError(f"{out} holds a run with another {key} ({old.get(key)!r} vs "
                                  f"{manifest.get(key)!r}); use a fresh --out directory")
    path.write_text(json.dumps(manifest, indent=2))


def trim_response(task: str, response: dict) -> dict:
    """What the report needs from a response; subject_lines are kept as suggestions."""
    out = {k: response.get(k) for k in RESPONSE_KEYS if k in response}
    if "subject_lines" in out:
        out["suggestions"] = out.pop("subject_lines")
    return out


@dataclass
class RunStats:
    seconds: dict[str, float] = field(default_factory=dict)
    ran: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


Progress = Callable[[str, int], Callable[[int], None]]  # (label, total) -> advance(n)


def _no_progress(label: str, total: int) -> Callable[[int], None]:
    return lambda n: None


async def run_variant(*, task: str, examples: list[Example], variant: Variant, target: Target,
                      evaluator: Evaluator, store: ResultStore, concurrency: int,
                      advance: Callable[[int], None] = lambda n: None) -> int:
    """Generate and score every example not yet done; returns how many ran."""
    todo = [e for e in examples if not store.done(variant.name, e.id)]
    sem = asyncio.Semaphore(max(concurrency, 1))

    async def one(example: Example) -> None:
        async with sem:
            started = time.perf_counter()
            response, error = None, None
            try:
                response = trim_response(task, await target.generate(task, example, variant))
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:
                if isinstance(exc, TargetUnavailable | ConfigError):
                    raise
                error = f"{type(exc).__name__}: {exc}"[:500]
            wall_ms = (time.perf_counter() - started) * 1000
            scores = await asyncio.to_thread(evaluator.score, example, response, wall_ms)
            store.append({"variant": variant.name, "id": example.id, "response": response,
                          "error": error, "scores": scores, "scored": SCORE_VERSION})
            advance(1)

    try:
        async with asyncio.TaskGroup() as tg:
            for e in todo:
                tg.create_task(one(e))
    except BaseExceptionGroup as group:  # surface the cause, not the group
        raise group.exceptions[0] from None
    return len(todo)


def rescore_stale(*, examples: list[Example], variants: list[Variant], evaluator: Evaluator,
                  store: ResultStore) -> int:
    """Re-score finished records written by an older ``Evaluator`` (``SCORE_VERSION``) from
    their saved responses and wall times, so a harness upgrade never needs the model again.
    The new record is appended (the last record of a key wins); returns how many."""
    n = 0
    for v in variants:
        for e in examples:
            rec = store.records.get((v.name, e.id))
            if rec is None or rec.get("scored", 1) >= SCORE_VERSION:
                continue
            wall_ms = rec["scores"].get("latency_ms") or 0.0
            scores = evaluator.score(e, rec["response"], wall_ms)
            store.append({**rec, "scores": scores, "scored": SCORE_VERSION})
            n += 1
    return n


async def run_all(*, task: str, dataset: Dataset, examples: list[Example],
                  variants: list[Variant], make_target: Callable[[Path | None], Awaitable[Target]],
                  evaluator: Evaluator, store: ResultStore, concurrency: int,
                  progress: Progress = _no_progress) -> tuple[RunStats, dict[str, dict]]:
    """Run each variant; one target per settings file, history ingested once per author.
    A baseline variant (``evals.baselines``) gets its own target: no models, no history."""
    from evals.baselines import baseline_target

    stats = RunStats()
    described: dict[str, dict] = {}
    groups: dict[Path | str | None, list[Variant]] = {}
    for v in variants:
        groups.setdefault(f"baseline:{v.baseline}" if v.baseline else v.config, []).append(v)
    for config, group in groups.items():
        if isinstance(config, str):
            target = baseline_target(group[0].baseline, dataset.examples)
            label, users = group[0].baseline, []
        else:
            target = await make_target(config)
            label = config.stem if config else "default"
            users = sorted({e.user for e in examples if e.user and e.user in dataset.histories})
        pending = [v for v in group if any(not store.done(v.name, e.id) for e in examples)]
        if not pending:  # all done by an earlier run: describe, do not load models
            for v in group:
                described[v.name] = target.describe()
                stats.skipped[v.name] = len(examples)
            await target.close()
            continue
        try:
            t0 = time.perf_counter()
            await target.start()
            stats.seconds[f"start[{label}]"] = time.perf_counter() - t0
            if users:
                t0 = time.perf_counter()
                advance = progress("history", sum(len(dataset.histories[u]) for u in users))
                for u in users:
                    await target.add_history(u, dataset.histories[u])
                    advance(len(dataset.histories[u]))
                stats.seconds[f"history[{label}]"] = time.perf_counter() - t0
            for v in group:
                described[v.name] = target.describe()
                todo = sum(not store.done(v.name, e.id) for e in examples)
                advance = progress(v.name, todo)
                t0 = time.perf_counter()
                ran = await run_variant(task=task, examples=examples, variant=v, target=target,
                                        evaluator=evaluator, store=store,
                                        concurrency=concurrency, advance=advance)
                stats.seconds[v.name] = time.perf_counter() - t0
                stats.ran[v.name] = ran
                stats.skipped[v.name] = len(examples) - ran
        finally:
            await target.close()
    return stats, described
