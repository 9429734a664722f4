"""Quick smart-reply quality check for tuning (the full harness is ``persona eval``).

Runs the use case in-process over a slice of a TSV (message TAB reply): rows
``--start`` .. ``--start + --rows`` (file lines, 0-based; blank pairs skipped), for
each ``--modes`` variant, and prints best-of-n weighted ROUGE (MRS: R1/6 + R2/3 +
RL/2, max over the suggestions; ``evals.metrics``), its ratio to the constant
baseline on the same rows, corpus-level distinct-1/2 (every n-gram of every
suggestion of every request, distinct over total) and the per-request mean of
distinct-2 (named as such), fallback reasons and use-case latency; then the paired
bootstrap 95% CI of each mode against ``rules`` (``evals.compare``).

``constant`` is no pipeline: always the three most frequent short replies of
reddit-replies ("thank you!", "thanks!", "yes"). Modes: full (rank heuristic),
full-ll (rank likelihood), rules, model, full-slots1 / full-ll-slots1 (the model
takes one slot first, the rest compete on score), full-slots0, plain.

    .venv/bin/python benchmarks/quality_smart_replies.py \\
        --data ../shared/data/reddit-replies/valid.tsv --start 1000 --rows 100 \\
        --modes constant,rules,full --dump /tmp/sr.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CONSTANT = ("thank you!", "thanks!", "yes")


def load_rows(path: Path, start: int, rows: int) -> list[tuple[int, str, str]]:
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f):
            if n < start:
                continue
            if n >= start + rows:
                break
            msg, _, reply = line.rstrip("\n").partition("\t")
            if msg.strip() and reply.strip():
                out.append((n, msg.strip(), reply.strip()))
    return out


def policies():
    from gateway.usecases.policy import DEFAULT_POLICY, MODEL_ONLY, RULES_ONLY, GenerationPolicy

    return {"full": DEFAULT_POLICY, "rules": RULES_ONLY, "model": MODEL_ONLY,
            "plain": GenerationPolicy(personalize=False),
            "full-ll": GenerationPolicy(rank="likelihood"),
            "full-slots0": GenerationPolicy(model_slots=0),
            "full-slots1": GenerationPolicy(model_slots=1),
            "full-ll-slots1": GenerationPolicy(rank="likelihood", model_slots=1)}


def summary(mode: str, scores: dict, texts: list[list[str]], extra: str, const: float) -> str:
    from evals.metrics import distinct_n

    flat = [t for ts in texts for t in ts]
    per_request = [d for ts in texts if (d := distinct_n(ts, 2)) is not None]
    mrs = statistics.mean(scores.values())
    return (f"{mode:14s} rows={len(scores)} MRS={mrs:.4f} x_const={mrs / const:.2f} "
            f"distinct-1={distinct_n(flat, 1) or 0:.3f} distinct-2={distinct_n(flat, 2) or 0:.3f} "
            f"per-request-distinct-2={statistics.mean(per_request) if per_request else 0:.3f} "
            f"{extra}")


async def run(args) -> None:
    from gateway.core.offline import offline_env

    offline_env()
    from evals.compare import paired_bootstrap
    from evals.metrics import best_of_n_weighted_rouge
    from gateway.auth import create_key
    from gateway.core.settings import Settings
    from gateway.schemas.smart_replies import SmartReplyRequest
    from gateway.services import build_services, start_services
    from gateway.tables import Tenant
    from gateway.usecases.replies.prompt import warm_up_messages
    from gateway.usecases.smart_replies import suggest_replies

    rows = load_rows(Path(args.data), args.start, args.rows)
    print(f"rows {args.start}..{args.start + args.rows - 1} ({len(rows)} pairs), "
          f"load average {os.getloadavg()}", flush=True)
    const_scores = {n: best_of_n_weighted_rouge(CONSTANT, [ref]) for n, _, ref in rows}
    const = statistics.mean(const_scores.values())
    results = {"constant": const_scores}
    modes = args.modes.split(",")
    if "constant" in modes:
        print(summary("constant", const_scores, [list(CONSTANT)] * len(rows), "", const))
    table = policies()
    pipeline_modes = [m for m in modes if m != "constant"]
    services = None
    if pipeline_modes:
        overrides = dict(kv.split("=", 1) for kv in args.set)
        settings = Settings(data_dir=Path(tempfile.mkdtemp()) / "data",
                            rate_limit_per_minute=0, **overrides)
        services = build_services(settings)
        start_services(services, warm_up_prompt=warm_up_messages)
        create_key(services.db, tenant="quality", scope="admin")
        with services.db.session() as s:
            tenant_id = s.query(Tenant).filter_by(name="quality").one().id
    dumped: list[dict] = []
    for mode in pipeline_modes:
        scores, texts, lat = {}, [], []
        reasons: collections.Counter = collections.Counter()
        sources: collections.Counter = collections.Counter()
        for n, msg, ref in rows:
            req = SmartReplyRequest.model_validate({
                "user_id": "reader", "n": 3, "deadline_ms": args.deadline_ms,
                "message": {"from": "friend@example.com", "subject": "", "body": msg}})
            t0 = time.monotonic()
            res = await suggest_replies(services=services, tenant_id=tenant_id, request=req,
                                        request_id=f"{mode}-{n}", policy=table[mode])
            lat.append((time.monotonic() - t0) * 1000)
            preds = [s.text for s in res.suggestions]
            scores[n] = best_of_n_weighted_rouge(preds, [ref])
            texts.append(preds)
            reasons[res.fallback_reason] += 1
            sources.update(s.source for s in res.suggestions)
            dumped.append({"mode": mode, "row": n, "msg": msg, "ref": ref,
                           "suggestions": [s.model_dump() for s in res.suggestions],
                           "mrs": scores[n]})
        results[mode] = scores
        lat.sort()
        print(summary(mode, scores, texts,
                      f"p50={lat[len(lat) // 2]:.0f}ms p95={lat[int(len(lat) * 0.95) - 1]:.0f}ms "
                      f"sources={dict(sources)} reasons={dict(reasons)}", const), flush=True)
    base = "rules" if "rules" in results else "constant"
    for mode, scores in results.items():
        if mode == base:
            continue
        ci = paired_bootstrap(results[base], scores, seed=0)
        print(f"{mode} - {base}: {ci['diff']:+.4f} [{ci['ci_low']:+.4f}, {ci['ci_high']:+.4f}]"
              f"{' significant' if ci['significant'] else ''}")
    print(f"load average at end {os.getloadavg()}")
    if args.dump:
        with Path(args.dump).open("a", encoding="utf-8") as f:  # noqa: ASYNC230 - at the end
            f.writelines(json.dumps(d) + "\n" for d in dumped)
    if services is not None:
        services.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="TSV file: message TAB reply")
    p.add_argument("--start", type=int, default=0, help="first file line (0-based)")
    p.add_argument("--rows", type=int, default=100, help="file lines from --start")
    p.add_argument("--modes", default="constant,full,rules")
    p.add_argument("--deadline-ms", type=int, default=None,
                   help="request deadline_ms (default: none, i.e. the settings and the model budget)")
    p.add_argument("--dump", help="append every request's suggestions to this JSONL file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="settings override, e.g. --set smart_reply_samples=3")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
