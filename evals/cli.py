"""``persona eval smart-replies|subject-lines``: run, compare, report, gate.

Exit codes: 0 done (and every threshold met), 1 a ``--fail-under``/``--fail-over``
threshold missed (reasons printed), 2 bad data, options or settings, 130 interrupted
(rerun the same command to resume).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from evals.loaders import AESLC_HISTORY_CAP
from gateway.core.errors import GatewayError

eval_app = typer.Typer(help="Offline quality evals: compare configurations on the same examples.",
                       no_args_is_help=True, pretty_exceptions_enable=False)
err = Console(stderr=True)

DataOpt = Annotated[Path, typer.Option("--data", help="Examples: .tsv (message<TAB>reply), "
                                       "AESLC .jsonl, or API-format .jsonl (see docs/evals.md).")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output dir: results.jsonl (resumable), "
                                      "metrics.json, report.md, report.html.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1,
                     help="Evaluate a seeded sample of N examples (same seed, same sample).")]
VariantOpt = Annotated[list[str] | None, typer.Option("--variant", help="Variant to run; "
                       "repeat to compare (first = baseline). smart-replies: full, rules, model, "
                       "plain, constant (the file's top-3 short replies, no model). subject-lines: personalized, plain, rules, rules-plain, model.")]
ConfigOpt = Annotated[list[Path] | None, typer.Option("--config", help="Settings file (KEY=value "
                      "lines, PERSONA_ prefix); repeat to compare models or prompt versions.")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Evaluate a running gateway "
                   "(black box) instead of in-process.")]
KeyOpt = Annotated[str | None, typer.Option("--api-key", envvar="PERSONA_API_KEY",
                   help="Admin API key for --url (or PERSONA_API_KEY).")]
UnderOpt = Annotated[list[str] | None, typer.Option("--fail-under", help="METRIC=VALUE or "
                     "VARIANT:METRIC=VALUE: exit 1 if the metric is below VALUE.")]
OverOpt = Annotated[list[str] | None, typer.Option("--fail-over", help="METRIC=VALUE: exit 1 "
                    "if the metric is above VALUE (latency, fallback or error rates).")]
ConcOpt = Annotated[int | None, typer.Option("--concurrency", min=1, max=256, help="Requests "
                    "in flight (default 1 in-process: one local model slot; 4 with --url).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for sampling and bootstrap CIs.")]
HistoryOpt = Annotated[Path | None, typer.Option("--history", help="AESLC train file for "
                       "author history (default: train.jsonl beside --data).")]
CapOpt = Annotated[int, typer.Option("--history-per-author", min=0, help="AESLC: ingest a seeded "
                   "sample of at most N train emails per author (default 0 = all of them).")]
DeadlineOpt = Annotated[int | None, typer.Option("--deadline-ms", min=50, max=60000,
                        help="Set deadline_ms on every request (default: the gateway's).")]


def _progress_factory(progress):
    """Rich bars on a terminal; in CI logs (no live display) a line per 10%."""
    def make(label: str, total: int):
        task_id = progress.add_task(label, total=total)
        if err.is_terminal:
            return lambda n: progress.advance(task_id, n)
        state = {"done": 0, "next": max(total // 10, 1), "t0": time.perf_counter()}

        def advance(n: int) -> None:
            progress.advance(task_id, n)
            state["done"] += n
            if state["done"] >= state["next"] or state["done"] == total:
                state["next"] += max(total // 10, 1)
                err.print(f"{label}: {state['done']}/{total} "
                          f"({time.perf_counter() - state['t0']:.0f}s)", soft_wrap=True)

        return advance

    return make


def _print_table(summary: dict) -> None:
    from evals.report import _cell, _rows

    keys, names = _rows(summary)
    table = Table("metric", *names, title=f"{summary['task']} (baseline {summary['baseline']}, "
                  f"primary {summary['primary_metric']})")
    for k in keys:
        if k.startswith(("guardrail.", "fallback_rate.")):
            continue
        table.add_row(k, *(_cell(summary, v, k) for v in names))
    err.print(table)
    for sec in summary.get("sections") or []:
        extra = Table(*sec["header"], title=sec["title"])
        for row in sec["rows"]:
            extra.add_row(*row)
        err.print(extra)
    from evals.report import ratio_lines

    for line in ratio_lines(summary)[1:]:
        err.print(line, soft_wrap=True)


async def _metric_embedder(config: Path | None):
    """One embedder for similarity metrics across every variant (the settings' model)."""
    from embeddings.embedder import load_embedder
    from gateway.core.settings import load_settings

    s = load_settings(config, load_models=False)
    emb = load_embedder(s.embedding_model, batch_size=s.embedding_batch_size, eager=False)
    await asyncio.to_thread(emb.load)
    return emb


def run_eval(task: str, *, data: Path, out: Path, limit: int | None, variant: list[str] | None,
             config: list[Path] | None, url: str | None, api_key: str | None,
             fail_under: list[str] | None, fail_over: list[str] | None,
             concurrency: int | None, seed: int, history: Path | None = None,
             history_cap: int = AESLC_HISTORY_CAP, deadline_ms: int | None = None,
             folds: int | None = None) -> int:
    """The whole eval; returns the exit code. Task ``style``: smart replies on PanzaMail
    with attribution of each request's suggestions to its writer (``evals.style``)."""
    from gateway.core.offline import offline_env

    offline_env()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from evals import gate
    from evals.loaders import load_dataset, select
    from evals.report import git_info, summarize, write_reports
    from evals.runner import RESULTS, ResultStore, check_manifest, rescore_stale, run_all
    from evals.scoring import Evaluator, grounding_checker
    from evals.style_data import STYLE_SETTINGS
    from evals.targets import HttpTarget, InProcessTarget, in_process_settings
    from evals.variants import resolve

    thresholds = gate.parse(fail_under, "under") + gate.parse(fail_over, "over")
    if url and not api_key:
        err.print("[red]error:[/] --url needs --api-key (or PERSONA_API_KEY)")
        return 2
    use_case = "smart-replies" if task == "style" else task
    style = None
    if task == "style":
        from evals.style import StyleModels
        from evals.style_data import load_panza, split

        if url:
            err.print("[yellow]warning:[/] the gateway at --url counts each fold's user as a "
                      "person for its tenant response set; set "
                      "PERSONA_SMART_REPLY_SHARED_MIN_USERS=0 there, or a writer's own "
                      "replies may be served to every variant")

        variants = resolve(use_case, variant or ["full", "plain"], config)
        style_data = split(load_panza(data), folds=folds, limit=limit, seed=seed)
        style = (style_data, StyleModels.train(style_data))
        dataset, examples = style_data.dataset, style_data.examples
    else:
        variants = resolve(task, variant, config, http=bool(url))
        dataset = load_dataset(task, data, history=history, history_cap=history_cap, seed=seed)
        examples = select(dataset.examples, limit, seed)
    if deadline_ms is not None:
        examples = [replace(e, request={**e.request, "deadline_ms": deadline_ms})
                    for e in examples]
    out.mkdir(parents=True, exist_ok=True)
    check_manifest(out, {"task": task, "data_sha256": dataset.files["data"]["sha256"],
                         "seed": seed, "deadline_ms": deadline_ms,
                         "history_sha256": dataset.files.get("history", {}).get("sha256"),
                         "history_cap": history_cap if dataset.histories else None,
                         "history_dedup": True if dataset.format == "aeslc" else None,
                         **({"folds": folds} if style else {})})
    conc = concurrency or (4 if url else 1)

    async def make_target(cfg: Path | None):
        if url:
            return HttpTarget(url, api_key)
        scratch = out / "scratch" / (cfg.stem if cfg else "default")
        return InProcessTarget(in_process_settings(cfg, scratch, STYLE_SETTINGS if style else None))

    async def main():
        embedder = await _metric_embedder(config[0] if config and not url else None)
        if style:
            from evals.style import StyleEvaluator

            evaluator = StyleEvaluator(style[1], style[0].writer_of, embed=embedder.embed,
                                       histories=dataset.histories,
                                       grounding=grounding_checker())
        else:
            evaluator = Evaluator(task, embed=embedder.embed, grounding=grounding_checker(),
                                  histories=dataset.histories)
        store = ResultStore(out / RESULTS)
        try:
            with Progress(TextColumn("{task.description:>14}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), TimeRemainingColumn(), console=err) as progress:
                stats, described = await run_all(
                    task=use_case, dataset=dataset, examples=examples, variants=variants,
                    make_target=make_target, evaluator=evaluator, store=store, concurrency=conc,
                    progress=_progress_factory(progress))
            rescored = await asyncio.to_thread(rescore_stale, examples=examples,
                                               variants=variants, evaluator=evaluator,
                                               store=store)
            if rescored:
                err.print(f"re-scored {rescored} results saved by an older harness")
            records = {v.name: store.for_variant(v.name, examples) for v in variants}
        finally:
            store.close()
        return evaluator, stats, described, records

    load_start = os.getloadavg()
    t0 = time.perf_counter()
    evaluator, stats, described, records = asyncio.run(main())
    timing = {"total_s": time.perf_counter() - t0, "seconds": stats.seconds, "ran": stats.ran,
              "skipped_done": stats.skipped, "concurrency": conc, "cpu_count": os.cpu_count(),
              "loadavg_start": list(load_start), "loadavg_end": list(os.getloadavg()),
              "git": git_info()}
    # Every invocation's timing is kept: a resumed run's report still shows the first one's.
    with open(out / "timings.jsonl", "a") as f:
        f.write(json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            **timing}) + "\n")
    invocations = [json.loads(x) for x in (out / "timings.jsonl").read_text().splitlines()]
    summary = summarize(task=task, evaluator=evaluator, variants=variants, described=described,
                        records=records, examples=examples, dataset=dataset, seed=seed,
                        extra={"limit": limit, "runner": "http" if url else "in-process",
                               "deadline_ms": deadline_ms, "url": url, "timing": timing,
                               "invocations": invocations})
    if style:
        from evals.style import style_sections, summarize_style

        summary["style"] = summarize_style(style[0], style[1], records, seed=seed)
        summary["sections"] = style_sections(summary["style"], [v.name for v in variants])
    results = gate.evaluate(thresholds, {n: v["metrics"] for n, v in summary["variants"].items()},
                            variants[0].name)
    summary["gate"] = results
    write_reports(out, summary, examples, records)
    _print_table(summary)
    err.print(f"reports in {out}/ (metrics.json, report.md, report.html); "
              f"{timing['total_s']:.0f}s")
    failed = [g for g in results if not g["passed"]]
    for g in failed:
        err.print(f"[red]FAIL[/] {g['spec']}: {g['reason']}", soft_wrap=True)
    return 1 if failed else 0


def _main(task: str, **kwargs) -> None:
    from pydantic import ValidationError

    from gateway.commands.options import print_invalid_settings

    try:
        code = run_eval(task, **kwargs)
    except ValidationError as exc:
        print_invalid_settings(exc)
        code = 2
    except GatewayError as exc:
        err.print(f"[red]error:[/] {exc.message}", soft_wrap=True)
        code = 2
    except KeyboardInterrupt:
        err.print("interrupted; finished examples are saved: rerun the same command to resume")
        code = 130
    raise typer.Exit(code)


@eval_app.command("smart-replies")
def smart_replies(data: DataOpt, out: OutOpt, limit: LimitOpt = None, variant: VariantOpt = None,
                  config: ConfigOpt = None, url: UrlOpt = None, api_key: KeyOpt = None,
                  fail_under: UnderOpt = None, fail_over: OverOpt = None,
                  concurrency: ConcOpt = None, seed: SeedOpt = 0,
                  deadline_ms: DeadlineOpt = None) -> None:
    """Evaluate smart replies (e.g. reddit-replies valid.tsv): best-of-n ROUGE, diversity, …"""
    _main("smart-replies", data=data, out=out, limit=limit, variant=variant, config=config,
          url=url, api_key=api_key, fail_under=fail_under, fail_over=fail_over,
          concurrency=concurrency, seed=seed, deadline_ms=deadline_ms)


@eval_app.command("subject-lines")
def subject_lines(data: DataOpt, out: OutOpt, limit: LimitOpt = None, variant: VariantOpt = None,
                  config: ConfigOpt = None, url: UrlOpt = None, api_key: KeyOpt = None,
                  fail_under: UnderOpt = None, fail_over: OverOpt = None,
                  concurrency: ConcOpt = None, seed: SeedOpt = 0,
                  history: HistoryOpt = None, history_per_author: CapOpt = AESLC_HISTORY_CAP,
                  deadline_ms: DeadlineOpt = None) -> None:
    """Evaluate subject lines (e.g. AESLC dev.jsonl, history from train.jsonl beside it)."""
    _main("subject-lines", data=data, out=out, limit=limit, variant=variant, config=config,
          url=url, api_key=api_key, fail_under=fail_under, fail_over=fail_over,
          concurrency=concurrency, seed=seed, history=history,
          history_cap=history_per_author, deadline_ms=deadline_ms)


StyleDataOpt = Annotated[Path, typer.Option("--data", help="PanzaMail directory: one "
                         "<writer>.jsonl (fields email, subject) per writer.")]
StyleLimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="Prompt at most N "
                          "held-out emails per writer (seeded sample).")]
FoldsOpt = Annotated[int, typer.Option("--folds", min=2, max=50, help="Folds over each "
                     "writer's held-out emails; a prompt's history is every other email.")]


@eval_app.command("style")
def style(data: StyleDataOpt, out: OutOpt, limit: StyleLimitOpt = None,
          variant: VariantOpt = None, config: ConfigOpt = None, folds: FoldsOpt = 5,
          fail_under: UnderOpt = None, fail_over: OverOpt = None, concurrency: ConcOpt = None,
          seed: SeedOpt = 0, deadline_ms: DeadlineOpt = None) -> None:
    """Style attribution (PanzaMail): are personalized smart replies attributed to their
    writer more often than plain ones? Default variants: full, plain."""
    _main("style", data=data, out=out, limit=limit, variant=variant, config=config, url=None,
          api_key=None, fail_under=fail_under, fail_over=fail_over, concurrency=concurrency,
          seed=seed, deadline_ms=deadline_ms, folds=folds)
