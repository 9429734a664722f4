"""Serving cost side by side: ``persona serve`` against LiteLLM's proxy, same upstream.

One fake OpenAI-compatible upstream (its own process) answers every chat completion
after a fixed delay (``--delay-ms``, 50). In front of it, in the same run on the same
machine, each with one worker process:

- ``persona serve`` with the real embedder (the default ``all-MiniLM-L6-v2``, as
  deployments run) and ``PERSONA_MODELS='["openai/fake"]'``, a user with 40 past
  replies (and 20 opened subject lines), ``smart_reply_samples=1``, the reply cache
  off (every request does the work);
- LiteLLM's proxy (``litellm --config ... --num_workers 1``), installed by this script
  into its own virtualenv (``~/.cache/persona-gateway/litellm-proxy-venv``, ``pip
  install 'litellm[proxy]'``): a benchmark tool, never a dependency of the gateway. It
  gets the very chat completion persona sent the upstream for that task (recorded by
  the upstream), with the same master-key authentication.

For smart replies and subject lines at concurrency 1, 10 and 50 the two systems take
turns (``--rounds`` rounds, the order swapped each round) so the machine's noise hits
both. Overhead = client latency minus the upstream delay. Printed per row: overhead
p50/p99 and req/s of each, the ratios (persona / proxy), persona's own
``X-Gateway-Overhead-Ms`` p50 and the share of its answers with the model's text
(the rest were rules: ``fallback_reason`` counts are in the JSON), and each server's
CPU time per request (its process and children, from /proc: the figure the machine's
noise moves least).

Run: .venv/bin/python benchmarks/bench_vs_litellm.py [--rounds 2] [--scale 1]
Writes benchmarks/results/vs-litellm.json. CPU heavy: about 5 minutes (first run: plus
the proxy's install).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import fixtures as fx
from benchmarks.harness import pct

PROXY_VENV = Path.home() / ".cache" / "persona-gateway" / "litellm-proxy-venv"
PROXY_KEY = "sk-bench-master"
CONCURRENCY = (1, 10, 50)
TASKS = (("smart_replies", "/v1/smart-replies", "reply"),
         ("subject_lines", "/v1/subject-lines", "subject"))
SUBJECT_MARK = "subject line for an email"
REPLY_TEXT = "Sounds good, see you then."

EMAILS = fx.EMAILS
CAMPAIGNS = [
    "Our spring sale is on: 20% off all running shoes until April 30. Find your pair online.",
    "New this week: three easy pasta recipes you can cook in 20 minutes, plus summer salads.",
    "The Q3 budget review moves to Thursday at 2pm in room 4B. Bring your updated forecasts.",
    "Join our free webinar on home composting next Tuesday at 6pm. Seats are limited.",
]
_ASKS = ["Lunch tomorrow at noon?", "Can we push the call to 4pm?",
         "Are you joining the offsite next week?", "Could you review my doc today?",
         "Thanks for the help yesterday!", "Can you send the slides before the meeting?",
         "Do you have time for a quick chat on Friday?", "Is the budget final yet?"]
_ANSWERS = ["Sounds good, see you at noon.", "Sure, 4pm works.", "Sadly not, I'm on holiday.",
            "Will do this afternoon.", "Any time, glad it worked out.",
            "Yes, I'll send them within the hour.", "Friday morning works for me.",
            "Not yet, I'll let you know by Monday."]
_SUBJECTS = ["Weekend deals on trail shoes", "Your order has shipped", "Five quick dinners",
             "Budget review moved", "Webinar: small-space gardening"]


def history_items() -> list[dict]:
    """40 past replies (sent_reply with the message they answered) and 20 opened subjects."""
    replies = [{"id": f"r{i}", "kind": "sent_reply",
                "context": f"{_ASKS[i % len(_ASKS)]} (thread {i})",
                "text": f"Hi, {_ANSWERS[i % len(_ANSWERS)]} Cheers, Sam"} for i in range(40)]
    subjects = [{"id": f"s{i}", "kind": "subject_opened",
                 "text": f"{_SUBJECTS[i % len(_SUBJECTS)]} #{i}"} for i in range(20)]
    return replies + subjects


# --------------------------------------------------------------------------- statistics

def summarize(latencies_ms: list[float], *, delay_ms: float, seconds: float) -> dict:
    """Client latency and overhead (latency minus the upstream's delay) p50/p99, req/s."""
    if not latencies_ms:
        return {"requests": 0}
    return {"requests": len(latencies_ms),
            "p50_ms": round(pct(latencies_ms, 50), 1), "p99_ms": round(pct(latencies_ms, 99), 1),
            "overhead_p50_ms": round(pct(latencies_ms, 50) - delay_ms, 1),
            "overhead_p99_ms": round(pct(latencies_ms, 99) - delay_ms, 1),
            "rps": round(len(latencies_ms) / seconds, 1) if seconds > 0 else None}


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is not positive."""
    if a is None or b is None or b <= 0:
        return None
    return round(a / b, 2)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, total = {pid}, 0
    for _ in range(4):  # a few generations deep is plenty (uvicorn, its workers)
        tree |= {p for p, (ppid, _) in stats.items() if ppid in tree}
    for p in tree:
        total += stats.get(p, (0, 0))[1]
    return total / tick


# --------------------------------------------------------------------------- upstream

def _subject_for(body: dict) -> str:
    """The campaign's first words: a subject the grounding check accepts, as a capable
    model's would be (the campaign is the fenced text of the last message)."""
    last = (body.get("messages") or [{}])[-1].get("content") or ""
    lines = [ln for ln in last.splitlines() if ln.strip() and not ln.startswith(("<", "#"))
             and "UNTRUSTED" not in ln]
    words = (lines[0] if lines else "Our news this week").split()[:6]
    return " ".join(words).rstrip(".,:;")


async def _upstream(delay_s: float, port_file: Path) -> None:
    """A loopback OpenAI-compatible chat endpoint: every POST answered after ``delay_s``
    (``n`` choices); ``GET /last/{reply,subject}`` returns the last body of that kind."""
    last: dict[str, bytes] = {}

    def answer(body: dict) -> tuple[str, bytes]:
        text = json.dumps(body.get("messages", []))
        kind = "subject" if SUBJECT_MARK in text else "reply"
        content = _subject_for(body) if kind == "subject" else REPLY_TEXT
        n = int(body.get("n") or 1)
        return kind, json.dumps({
            "id": "c1", "object": "chat.completion", "created": 1, "model": body.get("model"),
            "choices": [{"index": i, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}
                        for i in range(n)],
            "usage": {"prompt_tokens": 100, "completion_tokens": 8, "total_tokens": 108}}).encode()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                first, *lines = head.split(b"\r\n")
                length, chunked = 0, False
                for line in lines:
                    low = line.lower()
                    if low.startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                    chunked |= low.startswith(b"transfer-encoding:") and b"chunked" in low
                raw = await (_read_chunked(reader) if chunked else reader.readexactly(length))
                if first.startswith(b"GET /last/"):
                    data = last.get(first.split()[1].rsplit(b"/", 1)[1].decode(), b"null")
                elif not first.startswith(b"POST"):
                    print("upstream: unexpected", first.decode(errors="replace"),
                          file=sys.stderr)
                    data = b"{}"
                else:
                    body = json.loads(raw)
                    kind, data = answer(body)
                    last[kind] = raw
                    await asyncio.sleep(delay_s)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=1024)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
    await reader.readuntil(b"\r\n")
    return b"".join(parts)


def start_upstream(delay_ms: float, tmp: Path) -> tuple[int, subprocess.Popen]:
    port_file = tmp / "upstream.port"
    proc = subprocess.Popen([sys.executable, __file__, "--serve-upstream", str(delay_ms),
                             str(port_file)], cwd=ROOT)
    end = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if proc.poll() is not None or time.monotonic() > end:
            raise RuntimeError("the fake upstream did not start")
        time.sleep(0.05)
    return int(port_file.read_text()), proc


# --------------------------------------------------------------------------- the two systems

def ensure_proxy(venv: Path) -> Path:
    """The ``litellm`` proxy executable, installed into ``venv`` on first use."""
    exe = venv / "bin" / "litellm"
    if exe.exists():
        return exe
    print(f"installing litellm[proxy] into {venv} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True)
    return exe


def start_proxy(exe: Path, upstream: str, port: int, tmp: Path) -> subprocess.Popen:
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: fake\n"
        "    litellm_params:\n"
        "      model: openai/fake\n"
        f"      api_base: {upstream}\n"
        "      api_key: sk-bench\n"
        "litellm_settings:\n"
        "  num_retries: 0\n"
        "  telemetry: false\n"
        "general_settings:\n"
        f"  master_key: {PROXY_KEY}\n")
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR")
    env.pop("DATABASE_URL", None)
    return subprocess.Popen([str(exe), "--config", str(config), "--host", "127.0.0.1",
                             "--port", str(port), "--num_workers", "1", "--telemetry", "False"],
                            env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                            stderr=open(tmp / "proxy.log", "w"))


def persona_env(tmp: Path, upstream: str, port: int) -> dict:
    return dict(os.environ, PERSONA_DATA_DIR=str(tmp / "data"),
                PERSONA_MODELS='["openai/fake"]', PERSONA_PORT=str(port),
                PERSONA_RATE_LIMIT_PER_MINUTE="0", PERSONA_LOG_LEVEL="warning",
                PERSONA_SMART_REPLY_SAMPLES="1", PERSONA_REPLY_CACHE_TTL_S="0",
                PERSONA_LLM_RETRIES="0", OPENAI_API_KEY="sk-bench",
                OPENAI_BASE_URL=upstream, OPENAI_API_BASE=upstream,
                LITELLM_LOCAL_MODEL_COST_MAP="True", HF_HUB_OFFLINE="1",
                TRANSFORMERS_OFFLINE="1")


async def wait_up(session, url: str, proc: subprocess.Popen, what: str, log: Path | None = None):
    end = time.monotonic() + 300
    while time.monotonic() < end:
        try:
            async with session.get(url) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited: {tail}")
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{what} did not become ready in 300 s")


# --------------------------------------------------------------------------- load

@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    header_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    statuses: collections.Counter = field(default_factory=collections.Counter)
    reasons: collections.Counter = field(default_factory=collections.Counter)
    model_answers: int = 0
    cpu_s: float = 0.0  # the server's CPU (with its child processes) while measured


async def load(session, url: str, headers: dict, payloads, *, concurrency: int, total: int,
               run: Run, pid: int | None = None) -> None:
    """``total`` requests from ``concurrency`` closed-loop clients, added to ``run``
    (with the CPU the server process ``pid`` spent meanwhile)."""
    import aiohttp

    todo = iter(range(total))
    cpu0 = cpu_seconds(pid) if pid else 0.0

    async def worker():
        for i in todo:
            t0 = time.perf_counter()
            try:
                async with session.post(url, data=payloads(i), headers=headers) as r:
                    body = await r.read()
                    status, got = r.status, r.headers
            except aiohttp.ClientError as exc:  # e.g. a keep-alive connection the server closed
                run.statuses[type(exc).__name__] += 1
                continue
            ms = (time.perf_counter() - t0) * 1000
            run.statuses[status] += 1
            if status == 200:
                _count(run, ms, got, json.loads(body))

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.seconds += time.perf_counter() - t0
    if pid:
        run.cpu_s += cpu_seconds(pid) - cpu0


def _count(run: Run, ms: float, headers, doc: dict) -> None:
    run.latencies.append(ms)
    if (h := headers.get("X-Gateway-Overhead-Ms")) is not None:
        run.header_ms.append(float(h))
    if "fallback_reason" in doc:
        run.reasons[str(doc["fallback_reason"])] += 1
        served = doc.get("suggestions") or doc.get("subject_lines") or []
        run.model_answers += any(s.get("source") == "llm" for s in served)
    else:
        run.model_answers += 1


def persona_payloads(task: str):
    def make(i: int) -> bytes:
        if task == "smart_replies":
            frm, subj, text = EMAILS[i % len(EMAILS)]
            doc = {"user_id": "sam", "message": {"from": frm, "subject": subj, "body": text}}
        else:
            doc = {"user_id": "sam", "campaign": {"body": CAMPAIGNS[i % len(CAMPAIGNS)]}}
        return json.dumps(doc).encode()
    return make


async def main(args) -> dict:
    import aiohttp

    from benchmarks.bench_deadline_load import free_port, start_gateway

    exe = ensure_proxy(Path(args.proxy_venv))
    out: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "delay_ms": args.delay_ms,
                 "embedder": "all-MiniLM-L6-v2 (default embedded)", "rounds": args.rounds,
                 "load_avg_start": [round(x, 2) for x in os.getloadavg()], "rows": []}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        up_port, up_proc = start_upstream(args.delay_ms, tmp)
        upstream = f"http://127.0.0.1:{up_port}/v1"
        p_port, g_port = free_port(), free_port()
        proxy = start_proxy(exe, upstream, p_port, tmp)
        key, gateway = start_gateway(persona_env(tmp, upstream, g_port))
        conn = aiohttp.TCPConnector(limit=128, force_close=False)
        timeout = aiohttp.ClientTimeout(total=60)
        try:
            async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
                g_base, p_base = f"http://127.0.0.1:{g_port}", f"http://127.0.0.1:{p_port}"
                await wait_up(session, g_base + "/readyz", gateway, "persona serve")
                await wait_up(session, p_base + "/health/liveliness", proxy, "litellm proxy",
                              tmp / "proxy.log")
                g_auth = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
                p_auth = {"Authorization": f"Bearer {PROXY_KEY}",
                          "content-type": "application/json"}
                async with session.post(g_base + "/v1/users/sam/history", headers=g_auth,
                                        data=json.dumps({"items": history_items()})) as r:
                    assert r.status == 200, await r.text()
                for task, path, kind in TASKS:
                    if task in args.tasks:
                        out["rows"] += await _task_rows(
                            session, args, task, kind, {"persona": gateway.pid,
                                                        "litellm": proxy.pid},
                            persona=(g_base + path, g_auth, persona_payloads(task)),
                            proxy=(p_base + "/v1/chat/completions", p_auth),
                            last_url=f"http://127.0.0.1:{up_port}/last/{kind}")
        finally:
            for proc in (gateway, proxy, up_proc):
                proc.terminate()
            for proc in (gateway, proxy, up_proc):
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
    out["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


async def _task_rows(session, args, task: str, kind: str, pids: dict, *, persona, proxy,
                     last_url: str) -> list[dict]:
    """Warm both up, then each concurrency level, the systems taking turns."""
    g_url, g_auth, make = persona
    await load(session, g_url, g_auth, make, concurrency=4, total=20, run=Run())
    async with session.get(last_url) as r:
        sent = json.loads(await r.read())  # the chat completion persona sent for this task
    if sent is None:
        raise RuntimeError(f"persona never called the upstream for {task}")
    sent["model"] = "fake"
    body = json.dumps(sent).encode()
    systems = {"persona": persona, "litellm": (*proxy, lambda i: body)}
    await load(session, *systems["litellm"], concurrency=4, total=20, run=Run())
    if args.pid_file:  # warmed up: a profiler attached now sees requests
        Path(args.pid_file).write_text(str(pids["persona"]))
    rows = []
    for c in args.concurrency:
        total = max(int(args.scale * max(40, 8 * c)) // args.rounds, c)
        runs = {"persona": Run(), "litellm": Run()}
        for rnd in range(args.rounds):
            for system in (("persona", "litellm") if rnd % 2 == 0 else ("litellm", "persona")):
                await load(session, *systems[system], concurrency=c, total=total,
                           run=runs[system], pid=pids[system])
        rows.append(_row(task, c, runs, args.delay_ms))
        _print_row(rows[-1])
    return rows


def _row(task: str, c: int, runs: dict[str, Run], delay_ms: float) -> dict:
    g, p = runs["persona"], runs["litellm"]
    gs = summarize(g.latencies, delay_ms=delay_ms, seconds=g.seconds)
    ps = summarize(p.latencies, delay_ms=delay_ms, seconds=p.seconds)
    for stats, run in ((gs, g), (ps, p)):
        if run.latencies:
            stats["cpu_ms_per_request"] = round(1000 * run.cpu_s / len(run.latencies), 1)
    return {"task": task, "concurrency": c, "persona": gs, "litellm": ps,
            "persona_header_overhead_p50_ms": (round(pct(g.header_ms, 50), 1)
                                               if g.header_ms else None),
            "persona_model_answers_pct": (round(100 * g.model_answers / len(g.latencies), 1)
                                          if g.latencies else None),
            "persona_fallback_reasons": dict(g.reasons),
            "statuses": {"persona": {str(k): v for k, v in g.statuses.items()},
                         "litellm": {str(k): v for k, v in p.statuses.items()}},
            "ratio_overhead_p50": ratio(gs.get("overhead_p50_ms"), ps.get("overhead_p50_ms")),
            "ratio_overhead_p99": ratio(gs.get("overhead_p99_ms"), ps.get("overhead_p99_ms")),
            "ratio_rps": ratio(gs.get("rps"), ps.get("rps"))}


def _print_row(row: dict) -> None:
    g, p = row["persona"], row["litellm"]
    print(f"{row['task']:<14} c={row['concurrency']:<3} "
          f"persona {g.get('overhead_p50_ms')}/{g.get('overhead_p99_ms')} ms {g.get('rps')} rps "
          f"{g.get('cpu_ms_per_request')} cpu-ms/req "
          f"(header p50 {row['persona_header_overhead_p50_ms']} ms, model "
          f"{row['persona_model_answers_pct']}%) | litellm {p.get('overhead_p50_ms')}/"
          f"{p.get('overhead_p99_ms')} ms {p.get('rps')} rps {p.get('cpu_ms_per_request')} cpu-ms/req"
          f" | ratio p50 "
          f"{row['ratio_overhead_p50']} p99 {row['ratio_overhead_p99']} rps {row['ratio_rps']}",
          flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-upstream":
        asyncio.run(_upstream(float(sys.argv[2]) / 1000, Path(sys.argv[3])))
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay-ms", type=float, default=50.0, help="the upstream's fixed delay")
    ap.add_argument("--rounds", type=int, default=2, help="turns per system per row")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="requests per row per system: scale * max(40, 8 * concurrency)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY))
    ap.add_argument("--tasks", nargs="+", default=[t for t, _, _ in TASKS],
                    choices=[t for t, _, _ in TASKS])
    ap.add_argument("--proxy-venv", default=str(PROXY_VENV))
    ap.add_argument("--pid-file", help="write persona serve's pid here once it is warmed up (attach a profiler)")
    result = asyncio.run(main(ap.parse_args()))
    dest = ROOT / "benchmarks" / "results" / "vs-litellm.json"
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(json.dumps(result, indent=2) + "\n")
    print(f"load average: start {result['load_avg_start']} end {result['load_avg_end']}")
    print(f"wrote {dest}")
