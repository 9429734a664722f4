"""1 vs 2 replicas on PostgreSQL + Redis: smart replies/s and ingest items/s.

For each fleet size, a fresh fleet (benchmarks/fleet.py: embedded PostgreSQL, Redis,
N ``persona serve`` replicas, each with its own FAISS cache) with the real embedder
(the default embedded MiniLM, loaded in every replica) and the hosted-style fake
upstream of bench_deadline_load.py (``openai/fake`` on a loopback port, answering at
once), so what is measured is the gateway: auth, rate-limit and cache round trips to
Redis, retrieval on PostgreSQL, embedding, guardrails. The client spreads requests
round-robin over the replicas (what a load balancer does):

- ingest: ``--ingest-items`` items in batches of 10 over 50 users, concurrency 16;
- smart replies: ``--replies`` requests, concurrency 32, each a new message (so the
  per-user reply cache never answers), for users with 5 history items each.

Run: .venv/bin/python benchmarks/bench_fleet.py [--replies 400 --ingest-items 3000]
Writes benchmarks/results/fleet.json. About 4 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_deadline_load import EMAILS, HISTORY, Upstream
from benchmarks.fleet import Fleet, free_port
from benchmarks.harness import pct

USERS = 50


async def run(concurrency: int, jobs, send) -> dict:
    latencies: list[float] = []
    statuses: collections.Counter = collections.Counter()
    todo = iter(jobs)

    async def worker():
        for job in todo:
            t0 = time.monotonic()
            statuses[str(await send(job))] += 1
            latencies.append((time.monotonic() - t0) * 1000)

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.monotonic() - t0
    return {"requests": len(latencies), "seconds": round(seconds, 1),
            "per_s": round(len(latencies) / seconds, 1), "p50_ms": round(pct(latencies, 50), 1),
            "p99_ms": round(pct(latencies, 99), 1), "statuses": dict(statuses)}


async def measure(n: int, args, up_port: int) -> dict:
    import httpx

    fleet = Fleet(replicas_n=n, first_port=free_port(), env={
        "PERSONA_MODELS": '["openai/fake"]', "PERSONA_RATE_LIMIT_PER_MINUTE": "0",
        "PERSONA_LOG_LEVEL": "warning", "PERSONA_LLM_RETRIES": "0",
        "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": f"http://127.0.0.1:{up_port}/v1",
        "OPENAI_API_BASE": f"http://127.0.0.1:{up_port}/v1"})
    try:
        await asyncio.to_thread(fleet.start)
        auth = {"Authorization": f"Bearer {fleet.admin_key}"}
        bases = itertools.cycle([r.base for r in fleet.replicas])
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(timeout=60, limits=limits, headers=auth) as c:
            async def ingest(i: int):
                items = [{"id": f"b{i}-{j}", "kind": "sent_reply",
                          "text": f"Sounds good, item {i}-{j}. Cheers, Sam",
                          "context": EMAILS[(i + j) % len(EMAILS)][2]} for j in range(10)]
                r = await c.post(f"{next(bases)}/v1/users/ingest{i % USERS}/history",
                                 json={"items": items})
                return r.status_code

            async def reply(i: int):
                frm, subj, text = EMAILS[i % len(EMAILS)]
                body = {"user_id": f"u{i % USERS}",
                        "message": {"from": frm, "subject": subj, "body": f"{text} (#{i})"}}
                r = await c.post(f"{next(bases)}/v1/smart-replies", json=body)
                return r.status_code

            for u in range(USERS):  # the users smart replies personalise from
                items = [{"id": h, "kind": "sent_reply", "text": t, "context": ctx}
                         for h, ctx, t in HISTORY]
                (await c.post(f"{next(bases)}/v1/users/u{u}/history",
                              json={"items": items})).raise_for_status()
            await run(4, range(-40, 0), reply)  # warm-up: every replica, every code path
            out = {"replicas": n, "load_avg_before": os.getloadavg()[0]}
            res = await run(16, range(args.ingest_items // 10), ingest)
            res["items_per_s"] = round(res["per_s"] * 10, 1)
            out["ingest"] = res
            out["smart_replies"] = await run(32, range(args.replies), reply)
            out["load_avg_after"] = os.getloadavg()[0]
        return out
    finally:
        await asyncio.to_thread(fleet.stop)


async def main(args) -> dict:
    upstream = Upstream()
    up_port = await upstream.start()
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "embedder": "all-MiniLM-L6-v2 (embedded default)", "upstream": "openai/fake, instant",
           "cpus": os.cpu_count(), "runs": []}
    try:
        for n in args.replicas:
            r = await measure(n, args, up_port)
            print(json.dumps(r), flush=True)
            out["runs"].append(r)
    finally:
        upstream.server.close()
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--replies", type=int, default=400)
    ap.add_argument("--ingest-items", type=int, default=3000)
    result = asyncio.run(main(ap.parse_args()))
    dest = ROOT / "benchmarks" / "results" / "fleet.json"
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {dest}")
