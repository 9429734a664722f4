"""Subject-line latency through the HTTP app, with the deadline as the yardstick.

Run: .venv/bin/python benchmarks/bench_subject_lines.py [--requests 20] [--only embedded]
Same harness as bench_smart_replies (TestClient, full ASGI app). Reports p50/p95/max
and how many responses came back after their deadline (should be 0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import bench_client, pct

CAMPAIGNS = [
    "Our spring sale: 20% off all running shoes until April 30.",
    "New arrivals: the Trail Pro jacket is back in stock in five colours.",
    "Join our free webinar on budgeting for small teams this Thursday at 5pm.",
    "Members get early access to the summer collection starting June 1.",
    "Last chance: buy one coffee bag, get the second half price, ends Sunday.",
]
HISTORY = [
    ("o1", "subject_opened", "Your running shoes are on sale"),
    ("o2", "subject_opened", "20% off trail gear this week"),
    ("i1", "subject_ignored", "NEWSLETTER: company updates for March"),
    ("i2", "subject_ignored", "Read our latest blog posts"),
]


def run(kind: str, requests: int) -> dict:
    with bench_client(kind) as (client, auth, settings):
        items = [{"id": i, "kind": k, "text": t} for i, k, t in HISTORY]
        client.post("/v1/users/r1/history", json={"items": items}, headers=auth)
        lat, late, reasons = [], 0, {}
        for i in range(requests + 2):
            body = {"user_id": "r1", "n": 5, "max_chars": 60,
                    "campaign": {"body": CAMPAIGNS[i % len(CAMPAIGNS)], "brand": "Stride"}}
            t0 = time.perf_counter()
            r = client.post("/v1/subject-lines", json=body, headers=auth)
            ms = (time.perf_counter() - t0) * 1000
            assert r.status_code == 200, r.text
            if i < 2:
                continue  # warm-up
            lat.append(ms)
            late += ms > settings.subject_line_deadline_ms
            reason = str(r.json()["fallback_reason"])
            reasons[reason] = reasons.get(reason, 0) + 1
    return {"kind": kind, "requests": requests, "deadline_ms": settings.subject_line_deadline_ms,
            "p50_ms": round(statistics.median(lat), 1), "p95_ms": round(pct(lat, 95), 1),
            "max_ms": round(max(lat), 1), "after_deadline": late, "fallback_reasons": reasons}


def main() -> None:
    from gateway.core.offline import offline_env

    offline_env()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--only", choices=["fake", "embedded"])
    args = p.parse_args()
    results = [run(k, args.requests) for k in ("fake", "embedded") if args.only in (None, k)]
    for r in results:
        print(json.dumps(r))
    out = Path(__file__).parent / "results" / "subject-lines.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"results": results}, indent=2))


if __name__ == "__main__":
    main()
