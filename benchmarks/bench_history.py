"""History store benchmark: ingest rate, retrieval latency as the store grows, memory.

Run (on demand; builds ~3.5 GB of scratch data at 1M items, removed afterwards)::

    .venv/bin/python benchmarks/bench_history.py                      # everything
    .venv/bin/python benchmarks/bench_history.py --sizes 10000,100000 --no-minilm

What is measured, honestly:

- **ingest**: items/s through ``ingest_items`` (the use case behind
  ``POST /v1/users/{id}/history`` and ``persona ingest``): embed, one SQLite
  transaction per batch with ``synchronous=FULL``, index update. Once with the
  hash embedder (store + index cost alone) and with real MiniLM once per
  ``--backends`` x ``--threads`` (torch, onnx, onnx-int8; side by side in one run),
  as wall items/s and items per CPU-second of the process (steadier on a busy box).
- **retrieval**: ``HistoryService.retrieve(k=5)`` for one user holding 1,000 real
  (hash-embedded) items while the store holds N items in total. The other users'
  rows are synthetic (random unit vectors written straight into SQLite, 1,000 per
  user), which is what keeps building a 1M-item store tractable; they are real
  rows with real index snapshots, built by ``open()``'s repair. Latency is the full
  call (stats query, FAISS search, row fetch) with the cheap hash embedder for the
  query, as wall time and as on-CPU time of the calling thread (``thread_time``: the
  wall p99 on a shared box is mostly time spent descheduled). The MiniLM
  query-embedding cost is reported on its own, because it does not depend on the
  store size. "cold" is the first call (loads the snapshot).
- **memory**: RSS growth when every user's index is loaded, per million items; and
  bytes on disk per item (SQLite, snapshots).
- **contrast**: one global flat index over N vectors, to show what per-user
  indexes avoid (search time grows with N there).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.core.offline import offline_env

offline_env()

import faiss
import numpy as np
from rich.console import Console
from rich.table import Table

from embeddings.embedder import HashEmbedder, load_embedder
from embeddings.history import HistoryService, model_tag
from embeddings.items import HistoryItem
from gateway.auth import get_or_create_tenant
from gateway.core.crypto import MasterKeys, new_master_key
from gateway.core.db import Database
from gateway.core.keyring import Keyring
from gateway.core.settings import Settings, default_embedding_model
from gateway.schemas.history import HistoryItemIn

WORDS = [
    "meeting", "friday", "invoice", "budget", "draft", "review", "launch", "customer", "thanks",
    "deadline", "lunch", "travel", "flight", "hotel", "report", "numbers", "quarter", "team",
    "offsite", "agenda", "contract", "renewal", "support", "ticket", "outage", "fix", "deploy",
    "schedule", "call", "tomorrow", "week", "monday", "price", "offer", "shipping", "order",
    "refund", "discount", "sale", "shoes", "running", "spring", "summer",
]
PER_USER = 1000


def sentences(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    lens = rng.integers(8, 30, size=n)
    return [" ".join(rng.choice(WORDS, size=k)).capitalize() + "." for k in lens]


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_services(root: Path, embedding_model: str, backend: str = "torch", threads: int = 1):
    from gateway.services import build_services

    s = Settings(data_dir=root, models=["fake/test"], embedding_model=embedding_model,
                 embedding_backend=backend, embedding_threads=threads,
                 load_models=False, rate_limit_per_minute=0)
    svc = build_services(s)
    svc.embedder.load()
    svc.history.open()
    return svc


def ingest_items_for(n: int, contexts: bool) -> list[HistoryItem]:
    """Bare sentences, or (``contexts``) replies with a greeting and sign-off that
    answer a message: three distinct texts per item to embed (indexed, context, reply)."""
    texts = sentences(n, seed=1)
    if not contexts:
        return [HistoryItem(id=f"i{j}", kind="sent_reply", text=t) for j, t in enumerate(texts)]
    asks = sentences(n, seed=4)
    return [HistoryItem(id=f"i{j}", kind="sent_reply", text=f"Hi Sam,\n{t}\nCheers, Ann",
                        context=f"Question {j}: {a}") for j, (t, a) in enumerate(zip(texts, asks))]


def bench_ingest(root: Path, embedding_model: str, label: str, n: int, batch: int,
                 threads: int = 1, contexts: bool = False, backend: str = "torch") -> dict:
    from gateway.usecases.history import ingest_items

    svc = make_services(root, embedding_model, backend, threads)
    tenant = get_or_create_tenant(svc.db, "bench")
    items = ingest_items_for(n, contexts)
    texts = [it.text for it in items]
    # The use case takes the API's item schema (it validates, then stores .to_item()).
    items = [HistoryItemIn(**vars(it)) for it in items]
    svc.embedder.embed(texts[:8])  # warm-up outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    for j in range(0, n, batch):
        ingest_items(services=svc, tenant_id=tenant, user_id=f"u{(j // batch) % 10}",
                     items=items[j:j + batch])
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    t1 = time.perf_counter()
    svc.embedder.embed(texts[: min(n, 2048)])
    embed_rate = min(n, 2048) / (time.perf_counter() - t1)
    svc.close()
    return {"embedder": label, "contexts": contexts, "items": n, "batch": batch,
            "seconds": round(total, 2), "items_per_s": round(n / total, 1),
            "items_per_cpu_s": round(n / max(cpu, 1e-9), 1),
            "embed_only_items_per_s": round(embed_rate, 1),
            "load_avg_1m": round(os.getloadavg()[0], 2)}


def add_synthetic_users(db_path: Path, tenant: int, first: int, count: int, model: str,
                        dim: int, rng: np.random.Generator) -> None:
    """Bulk-write filler users straight into SQLite (setup only: synchronous=OFF)."""
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA synchronous=OFF")
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    sql = ("INSERT INTO history_items (tenant_id, user_id, item_id, kind, text, context, "
           "subject, timestamp, created_at, model, embedding) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
    for u in range(first, first + count):
        v = rng.standard_normal((PER_USER, dim)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        con.executemany(sql, [(tenant, f"synth{u}", f"s{j}", "sent_reply",
                               f"synthetic filler item {j}", None, None, None, now, model,
                               v[j].tobytes()) for j in range(PER_USER)])
        if u % 50 == 0:
            con.commit()
    con.commit()
    con.close()


def bench_retrieval(root: Path, sizes: list[int], queries: int, contrast: bool,
                    console: Console) -> list[dict]:
    emb = HashEmbedder()
    model, dim = model_tag(emb), emb.dim
    db = Database(root / "persona.sqlite3")
    db.create_all()
    tenant = get_or_create_tenant(db, "bench")
    keys = Keyring(db, MasterKeys.parse(new_master_key("bench")))  # filler rows stay plain
    svc = HistoryService(db=db, embedder=emb, index_dir=root / "index", cache_mb=4096, keys=keys)
    svc.open()
    target = [HistoryItem(id=f"t{j}", kind="sent_reply", text=t)
              for j, t in enumerate(sentences(PER_USER, seed=2))]
    for j in range(0, PER_USER, 250):
        svc.add(tenant, "target", target[j:j + 250])
    svc.close()
    qtexts = sentences(queries, seed=3)
    rng = np.random.default_rng(7)
    users_now, rows = 1, []
    for size in sizes:
        want = size // PER_USER
        console.print(f"[dim]store -> {size:,} items ({want} users)…[/]")
        add_synthetic_users(db.path, tenant, users_now, want - users_now, model, dim, rng)
        users_now = want
        svc = HistoryService(db=db, embedder=emb, index_dir=root / "index", cache_mb=4096,
                             keys=keys)
        t0 = time.perf_counter()
        svc.open()  # builds the new users' snapshots from the store (repair path)
        open_build = time.perf_counter() - t0
        svc.close()
        svc = HistoryService(db=db, embedder=emb, index_dir=root / "index", cache_mb=4096,
                             keys=keys)
        t0 = time.perf_counter()
        svc.open()  # everything in agreement: header checks only
        open_check = time.perf_counter() - t0
        t0 = time.perf_counter()
        svc.retrieve(tenant, "target", qtexts[0], k=5)
        cold = time.perf_counter() - t0
        lat, cpu = [], []
        for q in qtexts:
            t0, c0 = time.perf_counter(), time.thread_time()
            hits = svc.retrieve(tenant, "target", q, k=5)
            lat.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
            assert len(hits) == 5 and all(h.id.startswith("t") for h in hits)
        qv = emb.embed(qtexts)
        with svc.indexes.lock:
            idx = svc.indexes.synced((tenant, "target"))
            search = []
            for v in qv:
                t0 = time.perf_counter()
                idx.search(v, 5)
                search.append(time.perf_counter() - t0)
        row = {"store_items": size, "users": want, "user_items": PER_USER,
               "retrieve_p50_ms": round(pct(lat, 50) * 1e3, 3),
               "retrieve_p99_ms": round(pct(lat, 99) * 1e3, 3),
               "retrieve_cpu_p99_ms": round(pct(cpu, 99) * 1e3, 3),
               "load_avg_1m": round(os.getloadavg()[0], 2),
               "faiss_search_p50_ms": round(pct(search, 50) * 1e3, 4),
               "faiss_search_p99_ms": round(pct(search, 99) * 1e3, 4),
               "cold_first_retrieve_ms": round(cold * 1e3, 2),
               "open_rebuild_new_s": round(open_build, 2), "open_check_s": round(open_check, 2)}
        if size == sizes[-1]:
            row.update(memory_and_disk(svc, db, root, tenant, want, size))
            if contrast:
                row.update(global_flat_contrast(size, dim, qv[:20]))
        svc.close()
        rows.append(row)
    db.close()
    return rows


def memory_and_disk(svc: HistoryService, db: Database, root: Path, tenant: int,
                    users: int, size: int) -> dict:
    before = rss_mb()
    keys = [(tenant, "target")] + [(tenant, f"synth{u}") for u in range(1, users)]
    with svc.indexes.lock:
        for key in keys:
            svc.indexes.synced(key)
    grown = rss_mb() - before
    db_bytes = sum(p.stat().st_size for p in root.glob("persona.sqlite3*"))
    snap_bytes = sum(p.stat().st_size for p in (root / "index").rglob("*.pgx"))
    return {"rss_mb_all_indexes_loaded": round(grown, 1),
            "rss_mb_per_million_items": round(grown * 1e6 / size, 1),
            "sqlite_bytes_per_item": round(db_bytes / size),
            "snapshot_bytes_per_item": round(snap_bytes / size)}


def global_flat_contrast(size: int, dim: int, queries: np.ndarray) -> dict:
    rng = np.random.default_rng(11)
    index = faiss.IndexFlatIP(dim)
    for _ in range(0, size, 100_000):
        v = rng.standard_normal((min(100_000, size), dim)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        index.add(v)
    lat = []
    for q in queries:
        t0 = time.perf_counter()
        index.search(q.reshape(1, -1), 5)
        lat.append(time.perf_counter() - t0)
    return {"contrast_global_flat_search_p50_ms": round(pct(lat, 50) * 1e3, 2)}


def bench_query_embedding(n: int, threads: int, backend: str = "torch") -> dict:
    emb = load_embedder(default_embedding_model(), threads=threads, backend=backend,
                        cache_dir=Settings(load_models=False).embedder_cache_dir)
    qs = sentences(n, seed=5)
    emb.embed(qs[:4])
    lat = []
    for q in qs:
        t0 = time.perf_counter()
        emb.embed_one(q)
        lat.append(time.perf_counter() - t0)
    return {"minilm_query_embed_p50_ms": round(pct(lat, 50) * 1e3, 2),
            "minilm_query_embed_p99_ms": round(pct(lat, 99) * 1e3, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000",
                    help="Store sizes (total items) for the retrieval runs.")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--ingest-hash", type=int, default=20_000, help="Items for the hash run.")
    ap.add_argument("--ingest-minilm", type=int, default=2_000, help="Items for the MiniLM run.")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--no-minilm", action="store_true", help="Skip everything that loads MiniLM.")
    ap.add_argument("--torch-threads", "--threads", dest="threads", default="1,2",
                    help="MiniLM runs, one per embedder thread count (embedding_threads).")
    ap.add_argument("--backends", default="torch,onnx,onnx-int8",
                    help="MiniLM runs, one per embedding_backend (side by side).")
    ap.add_argument("--no-contrast", action="store_true")
    ap.add_argument("--ingest-only", action="store_true",
                    help="Only the MiniLM ingest runs (no hash run, no retrieval).")
    ap.add_argument("--contexts", action="store_true",
                    help="Ingest replies with greeting, sign-off and the message they answered.")
    ap.add_argument("--workdir", type=Path, default=None, help="Scratch dir (default: a temp dir).")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    console = Console(width=160)
    work = Path(tempfile.mkdtemp(prefix="bench-history-", dir=args.workdir))
    result = {"when": datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
              "machine": platform.machine(), "faiss": faiss.__version__,
              "load_avg_at_start": os.getloadavg()}
    try:
        ingest = [] if args.ingest_only else [
            bench_ingest(work / "ingest-hash", "hash", "hash", args.ingest_hash, args.batch,
                         contexts=args.contexts)]
        if not args.no_minilm:
            for threads in [int(t) for t in args.threads.split(",")]:
                for backend in args.backends.split(","):
                    label = f"MiniLM-L6-v2 {backend} (threads {threads})"
                    ingest.append(bench_ingest(work / f"ingest-minilm-{backend}-{threads}",
                                               default_embedding_model(), label,
                                               args.ingest_minilm, args.batch, threads=threads,
                                               contexts=args.contexts, backend=backend))
                    if not args.ingest_only:
                        result.setdefault("query_embedding", {})[label] = \
                            bench_query_embedding(100, threads=threads, backend=backend)
        result["ingest"] = ingest
        result["retrieval"] = [] if args.ingest_only else bench_retrieval(
            work / "store", sizes, args.queries, not args.no_contrast, console)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["load_avg_at_end"] = os.getloadavg()
    show(console, result)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"history-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {path}")


def show(console: Console, result: dict) -> None:
    t = Table(title="ingest (use case: embed + 1 txn/batch, synchronous=FULL + index)")
    cols = ("embedder", "contexts", "items", "batch", "seconds", "items_per_s",
            "items_per_cpu_s", "embed_only_items_per_s", "load_avg_1m")
    for c in cols:
        t.add_column(c, justify="right")
    for r in result["ingest"]:
        t.add_row(*(str(r.get(c)) for c in cols))
    console.print(t)
    if not result["retrieval"]:
        return
    cols = ["store_items", "retrieve_p50_ms", "retrieve_p99_ms", "retrieve_cpu_p99_ms",
            "faiss_search_p99_ms", "cold_first_retrieve_ms", "open_rebuild_new_s",
            "open_check_s", "load_avg_1m"]
    t = Table(title=f"retrieve k=5, one user with {PER_USER} items (hash query embedding)")
    for c in cols:
        t.add_column(c, justify="right")
    for r in result["retrieval"]:
        t.add_row(*(f"{r[c]:,}" if isinstance(r[c], int) else str(r[c]) for c in cols))
    console.print(t)
    last = result["retrieval"][-1]
    extra = {k: v for k, v in last.items() if k not in cols and k not in ("users", "user_items")}
    for k, v in extra.items():
        console.print(f"  {k}: {v}")
    for label, v in result.get("query_embedding", {}).items():
        console.print(f"  query embedding, {label}: {v}")


if __name__ == "__main__":
    main()
