"""Start-up cost: time from `persona serve` to /readyz 200, and process RSS once loaded.

Run: .venv/bin/python benchmarks/bench_startup.py [--runs 3]
Uses the embedded defaults (MiniLM + SmolLM2) in a scratch data dir.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_run() -> dict:
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        token = secrets.token_urlsafe(24)  # /readyz gives load_seconds only to the operator
        env = {**os.environ, "PERSONA_DATA_DIR": str(Path(tmp) / "data"),
               "PERSONA_METRICS_TOKEN": token}
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", "from gateway.cli import main; main()",
                                 "serve", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            healthy = ready = None
            while ready is None and time.monotonic() - started < 300:
                try:
                    if healthy is None and httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        healthy = time.monotonic() - started
                    r = httpx.get(f"http://127.0.0.1:{port}/readyz",
                                  headers={"Authorization": f"Bearer {token}"})
                    if r.status_code == 200:
                        ready = time.monotonic() - started
                        load = r.json().get("load_seconds", {})
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            return {"healthz_s": healthy, "readyz_s": ready, "rss_mb": _rss_mb(proc.pid),
                    "load_seconds": load}
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    runs = [one_run() for _ in range(args.runs)]
    summary = {
        "runs": runs,
        "readyz_s_median": statistics.median(r["readyz_s"] for r in runs),
        "rss_mb_median": statistics.median(r["rss_mb"] for r in runs),
    }
    print(json.dumps(summary, indent=2))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "startup.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
