"""Quick smart-reply quality check for tuning (the full harness is ``persona eval``).

Runs the use case in-process on the real embedded models over the first ``--rows``
message/reply pairs of a TSV (message TAB reply), for each ``--modes`` variant, and
prints best-of-n weighted ROUGE (MRS: R1/6 + R2/3 + RL/2, max over the suggestions),
distinct-1/2 over all suggestions, fallback reasons and use-case latency.

    .venv/bin/python benchmarks/quality_smart_replies.py \
        --data ../shared/data/reddit-replies/valid.tsv --rows 100
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load_rows(path: Path, rows: int) -> list[tuple[str, str]]:
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            msg, _, reply = line.rstrip("\n").partition("\t")
            if msg.strip() and reply.strip():
                out.append((msg.strip(), reply.strip()))
            if len(out) >= rows:
                break
    return out


async def run(args) -> None:
    from gateway.core.offline import offline_env

    offline_env()
    from evals.metrics import best_of_n_weighted_rouge, distinct_n
    from gateway.auth import create_key
    from gateway.core.settings import Settings
    from gateway.schemas.smart_replies import SmartReplyRequest
    from gateway.services import build_services, start_services
    from gateway.tables import Tenant
    from gateway.usecases.policy import DEFAULT_POLICY, MODEL_ONLY, RULES_ONLY
    from gateway.usecases.replies.prompt import warm_up_messages
    from gateway.usecases.smart_replies import suggest_replies

    policies = {"full": DEFAULT_POLICY, "rules": RULES_ONLY, "model": MODEL_ONLY}

    overrides = dict(kv.split("=", 1) for kv in args.set)
    settings = Settings(data_dir=Path(tempfile.mkdtemp()) / "data", rate_limit_per_minute=0,
                        **overrides)
    services = build_services(settings)
    start_services(services, warm_up_prompt=warm_up_messages)
    create_key(services.db, tenant="quality", scope="admin")
    with services.db.session() as s:
        tenant_id = s.query(Tenant).filter_by(name="quality").one().id
    rows = load_rows(Path(args.data), args.rows)
    for mode in args.modes.split(","):
        scores, texts, lat, counts = [], [], [], []
        reasons: collections.Counter = collections.Counter()
        for i, (msg, ref) in enumerate(rows):
            req = SmartReplyRequest.model_validate({
                "user_id": "reader", "n": 3, "deadline_ms": args.deadline_ms,
                "message": {"from": "friend@example.com", "subject": "", "body": msg}})
            t0 = time.monotonic()
            res = await suggest_replies(services=services, tenant_id=tenant_id, request=req,
                                        request_id=f"{mode}-{i}", policy=policies[mode])
            lat.append((time.monotonic() - t0) * 1000)
            preds = [s.text for s in res.suggestions]
            scores.append(best_of_n_weighted_rouge(preds, [ref]))
            texts.extend(preds)
            counts.append(len(preds))
            reasons[res.fallback_reason] += 1
            if args.show and i < args.show:
                print(f"  [{mode}] {msg[:60]!r} -> {preds}  (ref {ref[:40]!r})")
        lat.sort()
        print(f"{mode:6s} rows={len(rows)} MRS={100 * statistics.mean(scores):.2f} "
              f"distinct-1={distinct_n(texts, 1):.3f} distinct-2={distinct_n(texts, 2):.3f} "
              f"avg_n={statistics.mean(counts):.2f} p50={lat[len(lat) // 2]:.0f}ms "
              f"p95={lat[int(len(lat) * 0.95) - 1]:.0f}ms reasons={dict(reasons)}", flush=True)
    services.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="TSV file: message TAB reply")
    p.add_argument("--rows", type=int, default=100)
    p.add_argument("--modes", default="full,rules,model")
    p.add_argument("--deadline-ms", type=int, default=None,
                   help="request deadline_ms (default: none, i.e. the settings and the model budget)")
    p.add_argument("--show", type=int, default=0, help="print the first N rows' suggestions")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="settings override, e.g. --set smart_reply_samples=3")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
