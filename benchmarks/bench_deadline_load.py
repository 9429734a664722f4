"""Do smart-reply deadlines hold under load? Measured by the client, over real HTTP.

Starts ``persona serve`` in a subprocess with the real embedder (the default embedded
MiniLM, as deployments run) and ``PERSONA_MODELS='["openai/fake"]'`` pointing at a
loopback OpenAI-compatible upstream served by this script, then runs two phases:

- ``instant``: the upstream answers at once; concurrency 50, 500 requests;
- ``trickle``: the upstream sends its headers at once and then a byte every 0.5 s
  (a stuck provider); concurrency 10, 100 requests.

For each it prints, as the client measured it, the share of requests answered (HTTP
200) within the deadline (1500 ms, the default ``smart_reply_deadline_ms``) + 100 ms,
the share of all responses (200, or 503 + Retry-After when the gateway shed the
request) within it, p50/p99 latency, the status codes and the fallback reasons.

Run: .venv/bin/python benchmarks/bench_deadline_load.py [--llm-concurrency 16]
Writes benchmarks/results/deadline-load.json. CPU heavy: about 2 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import fixtures as fx
from benchmarks.harness import pct

DEADLINE_MS = 1500
EMAILS = fx.EMAILS
HISTORY = fx.HISTORY
ANSWER = json.dumps({
    "id": "c1", "object": "chat.completion", "created": 1, "model": "fake",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "Sounds good, see you then."}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 6, "total_tokens": 7}}).encode()


class Upstream:
    """A loopback OpenAI-compatible server: instant, or headers then a byte per 0.5 s."""

    def __init__(self) -> None:
        self.trickle = False
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                slow = self.trickle
                pad = 600 if slow else 0
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: " + str(len(ANSWER) + pad).encode() + b"\r\n\r\n")
                await writer.drain()
                for _ in range(pad):
                    writer.write(b" ")
                    await writer.drain()
                    await asyncio.sleep(0.5)
                writer.write(ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client hung up, or the benchmark is ending
        finally:
            writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def phase(client, url: str, auth: dict, *, concurrency: int, total: int) -> dict:
    import httpx

    latencies: list[float] = []
    within = within_any = 0
    statuses: collections.Counter = collections.Counter()
    reasons: collections.Counter = collections.Counter()
    errors: collections.Counter = collections.Counter()
    todo = iter(range(total))

    async def worker():
        nonlocal within, within_any
        for i in todo:
            frm, subj, text = EMAILS[i % len(EMAILS)]
            payload = {"user_id": "sam", "message": {"from": frm, "subject": subj, "body": text}}
            t0 = time.monotonic()
            try:
                r = await client.post(url, json=payload, headers=auth)
                status = r.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            ms = (time.monotonic() - t0) * 1000
            latencies.append(ms)
            statuses[str(status)] += 1
            within_any += ms <= DEADLINE_MS + 100
            if status == 503:
                errors[r.json()["error"]["message"][:60]] += 1
            if status == 200:
                reasons[str(r.json().get("fallback_reason"))] += 1
                within += ms <= DEADLINE_MS + 100

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"requests": total, "concurrency": concurrency,
            "answered_200_within_deadline_plus_100ms_pct": round(100 * within / total, 2),
            "any_response_within_deadline_plus_100ms_pct": round(100 * within_any / total, 2),
            "p50_ms": round(pct(latencies, 50), 1), "p99_ms": round(pct(latencies, 99), 1),
            "max_ms": round(max(latencies), 1), "statuses": dict(statuses),
            "fallback_reasons": dict(reasons), "errors": dict(errors), "seconds": round(time.monotonic() - t0, 1)}


def start_gateway(env: dict) -> tuple[str, subprocess.Popen]:
    """An admin key, then ``persona serve`` in a subprocess (models load in it)."""
    cli = [sys.executable, "-c", "from gateway.cli import main; main()"]
    key = subprocess.run(cli + ["keys", "create", "--tenant", "bench", "--scope", "admin"],
                         env=env, cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    proc = subprocess.Popen(cli + ["serve"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return key, proc


async def main(args) -> dict:
    import httpx

    upstream = Upstream()
    up_port = await upstream.start()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PERSONA_DATA_DIR=str(Path(tmp) / "data"),
                   PERSONA_MODELS='["openai/fake"]', PERSONA_PORT=str(port),
                   PERSONA_RATE_LIMIT_PER_MINUTE="0", PERSONA_LOG_LEVEL="warning",
                   PERSONA_HOSTED_LLM_CONCURRENCY=str(args.llm_concurrency), PERSONA_LLM_RETRIES="0",
                   **{f"PERSONA_{k.upper()}": v for k, v in args.set},
                   OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=f"http://127.0.0.1:{up_port}/v1",
                   OPENAI_API_BASE=f"http://127.0.0.1:{up_port}/v1",
                   LITELLM_LOCAL_MODEL_COST_MAP="True", HF_HUB_OFFLINE="1",
                   TRANSFORMERS_OFFLINE="1")
        key, proc = start_gateway(env)
        auth = {"Authorization": f"Bearer {key}"}
        base = f"http://127.0.0.1:{port}"
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        try:
            async with httpx.AsyncClient(timeout=30, limits=limits) as client:
                end = time.monotonic() + 300
                while time.monotonic() < end:
                    try:
                        if (await client.get(base + "/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if proc.poll() is not None:
                        raise RuntimeError("persona serve exited: " + proc.stderr.read()[-2000:])
                    await asyncio.sleep(0.2)
                items = [{"id": i, "kind": "sent_reply", "text": t, "context": c}
                         for i, c, t in HISTORY]
                r = await client.post(base + "/v1/users/sam/history", json={"items": items},
                                      headers=auth)
                r.raise_for_status()
                url = base + "/v1/smart-replies"
                await phase(client, url, auth, concurrency=1, total=10)  # warm-up
                out = {"deadline_ms": DEADLINE_MS, "llm_concurrency": args.llm_concurrency,
                       "settings": dict(args.set),
                       "date": time.strftime("%Y-%m-%d"), "load_avg": os.getloadavg()[0]}
                out["instant"] = await phase(client, url, auth, concurrency=args.instant_c,
                                             total=args.instant_n)
                print("instant:", json.dumps(out["instant"]), flush=True)
                upstream.trickle = True
                out["trickle"] = await phase(client, url, auth, concurrency=args.trickle_c,
                                             total=args.trickle_n)
                print("trickle:", json.dumps(out["trickle"]), flush=True)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            upstream.server.close()
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llm-concurrency", type=int, default=16,
                    help="PERSONA_HOSTED_LLM_CONCURRENCY for the hosted (loopback) model")
    ap.add_argument("--set", nargs=2, action="append", default=[], metavar=("SETTING", "VALUE"),
                    help="another gateway setting, e.g. --set cpu_workers 1")
    ap.add_argument("--instant-c", type=int, default=50)
    ap.add_argument("--instant-n", type=int, default=500)
    ap.add_argument("--trickle-c", type=int, default=10)
    ap.add_argument("--trickle-n", type=int, default=100)
    result = asyncio.run(main(ap.parse_args()))
    dest = ROOT / "benchmarks" / "results" / "deadline-load.json"
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {dest}")
