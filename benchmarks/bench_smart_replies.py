"""Smart-reply latency through the HTTP app: p50/p95 end to end.

Two runs, same requests (a small set of ordinary emails, a user with a few past replies):
- ``embedded``: MiniLM + SmolLM2-135M on this machine (the target: p50 <= 1 s on 2 cores);
- ``fake``: the instant scripted model + hashing embedder, i.e. the gateway's own cost
  (retrieval, prompt, cleaning, guardrails, selection, bookkeeping).

Run: .venv/bin/python benchmarks/bench_smart_replies.py [--requests 40] [--only fake]
Writes benchmarks/results/smart-replies.json. Through Starlette's TestClient (the full
ASGI app: middleware, auth, validation, lifespan), no network hop. The reply cache is
off: the eight emails come round again, and a cached answer is not what this measures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import fixtures as fx
from benchmarks.harness import bench_client, pct

EMAILS = [*fx.EMAILS[:5], fx.FYI, fx.EMAILS[5], fx.NEWS]
HISTORY = [*fx.HISTORY[:4],
           ("h5", "Thanks for the quick fix!", "Anytime! Cheers, Sam")]


def run(kind: str, requests: int, deadline_ms: int | None) -> dict:
    with bench_client(kind, reply_cache_ttl_s=0) as (client, auth, settings):
        items = [{"id": i, "kind": "sent_reply", "text": t, "context": c}
                 for i, c, t in HISTORY]
        client.post("/v1/users/sam/history", json={"items": items}, headers=auth)

        def ask(i: int) -> tuple[float, dict]:
            sender, subject, body = EMAILS[i % len(EMAILS)]
            payload = {"user_id": "sam", "n": 3,
                       "message": {"from": sender, "subject": subject, "body": body}}
            if deadline_ms:
                payload["deadline_ms"] = deadline_ms
            t0 = time.perf_counter()
            r = client.post("/v1/smart-replies", json=payload, headers=auth)
            ms = (time.perf_counter() - t0) * 1000
            assert r.status_code == 200, r.text
            return ms, {**r.json(), "overhead_ms": float(r.headers["X-Gateway-Overhead-Ms"])}

        for i in range(3):  # warm-up: imports, first prefill of the fixed prompt prefix
            ask(i)
        lat, overhead, reasons, sources = [], [], {}, {}
        for i in range(requests):
            ms, data = ask(i)
            lat.append(ms)
            overhead.append(data["overhead_ms"])
            reasons[str(data["fallback_reason"])] = reasons.get(str(data["fallback_reason"]), 0) + 1
            for s in data["suggestions"]:
                sources[s["source"]] = sources.get(s["source"], 0) + 1
    return {"kind": kind, "requests": requests, "deadline_ms": deadline_ms or settings.smart_reply_deadline_ms,
            "p50_ms": round(statistics.median(lat), 1), "p95_ms": round(pct(lat, 95), 1),
            "max_ms": round(max(lat), 1), "overhead_p50_ms": round(statistics.median(overhead), 1),
            "fallback_reasons": reasons, "suggestions_by_source": sources}


def main() -> None:
    from gateway.core.offline import offline_env

    offline_env()
    p = argparse.ArgumentParser(description="Smart-reply latency p50/p95 through the HTTP app.")
    p.add_argument("--requests", type=int, default=40)
    p.add_argument("--only", choices=["fake", "embedded"])
    p.add_argument("--deadline-ms", type=int, default=None,
                   help="per-request deadline (default: settings.smart_reply_deadline_ms)")
    args = p.parse_args()
    results = [run(k, args.requests, args.deadline_ms)
               for k in ("fake", "embedded") if args.only in (None, k)]
    for r in results:
        print(json.dumps(r))
    out = Path(__file__).parent / "results" / "smart-replies.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"results": results, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                        time.gmtime())}, indent=2))


if __name__ == "__main__":
    main()
