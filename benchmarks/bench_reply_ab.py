"""Smart replies, paired A/B of one serving change at c=1: shipped ("on") against before ("off").

In one process, one request at a time, alternating request by request (so the
machine's noise hits both alike): ``suggest_replies`` with the real MiniLM embedder
and a hosted-style model (``openai/fake``) on a loopback upstream that answers after
``--delay-ms`` (50), a user with 40 past replies, one sample, no reply cache.
``--compare`` names the change:

- ``precheck``: "on" runs the rules' guardrails and embeddings in the work pool while
  the model is awaited (``smart_replies._precheck``); "off" replaces ``_precheck`` with
  nothing, so ``_choose`` checks and embeds everything after the model, as before.
- ``batch-wait``: "on" is the micro-batching embedder as shipped (a leader waits for
  company only while the last batch had some); "off" makes every leader wait
  ``embedding_batch_wait_ms`` for company, as before.

Prints p50 / p90 / mean of the use case's wall time per request (HTTP not included)
and the fallback reasons of each.

Run: .venv/bin/python benchmarks/bench_reply_ab.py --compare precheck [--requests 400]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(args) -> None:
    from gateway.core.offline import offline_env

    offline_env()
    from benchmarks import bench_vs_litellm as vs

    tmp = Path(tempfile.mkdtemp())
    port, upstream = vs.start_upstream(args.delay_ms, tmp)
    base = f"http://127.0.0.1:{port}/v1"
    os.environ.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=base, OPENAI_API_BASE=base)
    from gateway.auth import create_key
    from gateway.core.settings import Settings
    from gateway.schemas.history import HistoryItemIn
    from gateway.schemas.smart_replies import SmartReplyRequest
    from gateway.services import build_services, start_services
    from gateway.tables import Tenant
    from gateway.usecases import smart_replies as sr
    from gateway.usecases.history import ingest_items

    services = build_services(Settings(
        data_dir=tmp / "data", models=["openai/fake"], rate_limit_per_minute=0,
        smart_reply_samples=1, reply_cache_ttl_s=0, llm_retries=0))
    try:
        start_services(services)
        create_key(services.db, tenant="bench", scope="admin")
        with services.db.session() as s:
            tenant_id = s.query(Tenant).filter_by(name="bench").one().id
        ingest_items(services=services, tenant_id=tenant_id, user_id="sam",
                     items=[HistoryItemIn.model_validate(x) for x in vs.history_items()])
        from embeddings.batching import BatchingEmbedder

        shipped, lead = sr._precheck, BatchingEmbedder._lead

        def always_wait(self):
            self._company = True  # as before: every leader waits for company
            return lead(self)

        got: dict[str, list] = {"on": [], "off": []}

        async def one(i: int, on: bool):
            if args.compare == "precheck":
                sr._precheck = shipped if on else (lambda *a, **k: None)
            else:
                BatchingEmbedder._lead = lead if on else always_wait
            frm, subject, body = vs.EMAILS[i % len(vs.EMAILS)]
            req = SmartReplyRequest.model_validate(
                {"user_id": "sam", "message": {"from": frm, "subject": subject, "body": body}})
            t0 = time.monotonic()
            res = await sr.suggest_replies(services=services, tenant_id=tenant_id, request=req,
                                           request_id=f"bench-{i}-{on}")
            return (time.monotonic() - t0) * 1000, res.fallback_reason

        async def run():
            for i in range(20):  # warm-up, not counted
                await one(-i - 1, True)
            for i in range(args.requests):
                on = i % 2 == 0
                got["on" if on else "off"].append(await one(i, on))

        asyncio.run(run())
        sr._precheck, BatchingEmbedder._lead = shipped, lead
        print(f"--compare {args.compare}")
        print(f"load average {os.getloadavg()[0]:.2f}; upstream delay {args.delay_ms:.0f} ms")
        for name, rows in got.items():
            ms = sorted(m for m, _ in rows)
            print(f"{name:3s} p50 {ms[len(ms) // 2]:.1f} ms  p90 {ms[int(len(ms) * 0.9)]:.1f} ms  "
                  f"mean {statistics.mean(ms):.1f} ms  {dict(collections.Counter(r for _, r in rows))}")
    finally:
        upstream.terminate()
        services.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", choices=("precheck", "batch-wait"), required=True,
                    help="which change to compare with its before")
    ap.add_argument("--requests", type=int, default=400, help="requests in all (half each)")
    ap.add_argument("--delay-ms", type=float, default=50.0, help="the upstream's fixed delay")
    main(ap.parse_args())
