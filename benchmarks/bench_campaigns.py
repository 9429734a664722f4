"""Campaign throughput: recipients per second, from POST /v1/campaigns to state done.

Run: .venv/bin/python benchmarks/bench_campaigns.py [--fake 200] [--embedded 20]
     [--only fake|embedded] [--concurrency 4]
The in-process runner (no PERSONA_REDIS_URL), same harness as bench_subject_lines
(TestClient, full ASGI app): "fake" is the instant scripted model with the hashing
embedder (the gateway's own cost per recipient), "embedded" MiniLM + SmolLM2. Half of
the audience has a subject-line history (personalized), half is unknown (plain lines).
Prints one JSON line per kind; the machine is noisy, so quote the load average with it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_subject_lines import HISTORY
from benchmarks.harness import bench_client

BODY = "Our spring sale: 20% off all running shoes until April 30. Stride makes every run lighter."


def run(kind: str, recipients: int, concurrency: int) -> dict:
    with bench_client(kind) as (client, auth, settings):
        settings.campaign_concurrency = concurrency  # read by the runner on each job
        audience = [f"r{i}" for i in range(recipients)]
        items = [{"id": i, "kind": k, "text": t} for i, k, t in HISTORY]
        for user in audience[::2]:
            r = client.post(f"/v1/users/{user}/history", json={"items": items}, headers=auth)
            assert r.status_code in (200, 201), r.text
        t0 = time.perf_counter()
        r = client.post("/v1/campaigns", headers=auth, json={
            "campaign": {"body": BODY, "brand": "Stride"}, "n": 3, "max_chars": 60,
            "audience": audience})
        assert r.status_code == 202, r.text
        job = r.json()["id"]
        while (p := client.get(f"/v1/campaigns/{job}", headers=auth).json())["state"] != "done":
            time.sleep(0.02)
        seconds = time.perf_counter() - t0
        reasons: dict[str, int] = {}
        cursor = None
        while True:
            page = client.get(f"/v1/campaigns/{job}/results", headers=auth,
                              params={"limit": 1000, **({"cursor": cursor} if cursor else {})}).json()
            for row in page["data"]:
                key = str(row["fallback_reason"])
                reasons[key] = reasons.get(key, 0) + 1
            if (cursor := page["next_cursor"]) is None:
                break
    return {"kind": kind, "recipients": recipients, "concurrency": concurrency,
            "done": p["done"], "failed": p["failed"], "seconds": round(seconds, 2),
            "recipients_per_s": round(recipients / seconds, 2), "fallback_reasons": reasons,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    from gateway.core.offline import offline_env

    offline_env()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fake", type=int, default=200, help="recipients with the fake model")
    p.add_argument("--embedded", type=int, default=20, help="recipients with the embedded model")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--only", choices=["fake", "embedded"])
    args = p.parse_args()
    sizes = {"fake": args.fake, "embedded": args.embedded}
    results = [run(k, sizes[k], args.concurrency) for k in ("fake", "embedded")
               if args.only in (None, k)]
    for r in results:
        print(json.dumps(r))
    out = Path(__file__).parent / "results" / "campaigns.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"results": results}, indent=2))


if __name__ == "__main__":
    main()
