"""What sealing user data (docs/security.md) costs: ingest and retrieval, side by side.

Run (a few seconds; SQLite in a temp dir, hash embedder so the store's own cost shows)::

    .venv/bin/python benchmarks/bench_encryption.py [--items 2000] [--queries 300]

Two keyrings on identical stores, interleaved in one run so machine noise hits both:

- **sealed**: the real path (AES-256-GCM per text and vector, data key from the
  in-memory cache, checked against ``user_keys`` once per write batch);
- **plain**: the same keyring, but its data key seals nothing (the key lookup still
  runs), so the difference is the cryptography alone.

Reported: ingest items/s (batches of 50), ``retrieve(k=5, with_vectors=True)`` p50
and p99 (opens 5 rows' texts and 10 vectors), and a cold index build from the store
(opens every stored embedding). Write ``uptime``'s load next to any figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embeddings.embedder import HashEmbedder
from embeddings.history import HistoryService
from embeddings.items import HistoryItem
from gateway.auth import get_or_create_tenant
from gateway.core.crypto import DataKey, MasterKeys, new_master_key
from gateway.core.db import Database
from gateway.core.keyring import Keyring
from gateway.storage import create_tables


class _PlainKey(DataKey):
    def seal(self, data: bytes) -> bytes:
        return data

    def seal_text(self, text):
        return text


class PlainKeyring(Keyring):
    def writer(self, tenant_id, user_id):
        real = super().writer(tenant_id, user_id)  # the same store check and cache
        return _PlainKey(real.key_id, b"\0" * 32)


WORDS = ["friday", "meeting", "budget", "review", "launch", "invoice", "travel", "lunch", "offsite", "draft", "contract", "hiring", "roadmap", "demo", "feedback"]


def texts(n: int) -> list[str]:
    return [" ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(12)) + f" #{i}"
            for i in range(n)]


def build(root: Path, keyring_cls) -> tuple[HistoryService, int]:
    db = Database(root / "persona.sqlite3")
    create_tables(db)
    keys = keyring_cls(db, MasterKeys.parse(new_master_key("bench")))
    svc = HistoryService(db=db, embedder=HashEmbedder(), index_dir=root / "index", keys=keys)
    svc.open()
    return svc, get_or_create_tenant(db, "bench")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="persona-bench-enc-"))
    systems = {name: build(tmp / name, cls) for name, cls in
               (("sealed", Keyring), ("plain", PlainKeyring))}
    body = texts(args.items)
    ingest = {n: 0.0 for n in systems}
    for start in range(0, args.items, 50):  # interleaved batches
        for name, (svc, tenant) in systems.items():
            batch = [HistoryItem(id=f"i{start + j}", kind="sent_reply", text=t,
                                 context=f"re: {t[:40]}")
                     for j, t in enumerate(body[start:start + 50])]
            t0 = time.perf_counter()
            svc.add(tenant, "u1", batch)
            ingest[name] += time.perf_counter() - t0
    lat = {n: [] for n in systems}
    queries = texts(args.queries)
    for q in queries:
        for name, (svc, tenant) in systems.items():
            t0 = time.perf_counter()
            svc.retrieve(tenant, "u1", q, k=5, with_vectors=True)
            lat[name].append((time.perf_counter() - t0) * 1000)
    cold = {}
    for name, (svc, tenant) in systems.items():
        svc.indexes.clear()
        for f in (tmp / name / "index").rglob("*.pgx"):
            f.unlink()
        t0 = time.perf_counter()
        svc.retrieve(tenant, "u1", queries[0], k=5)
        cold[name] = (time.perf_counter() - t0) * 1000
    print(f"load average {os.getloadavg()[0]:.2f}; hash embedder; SQLite; "
          f"{args.items} items, {args.queries} queries")
    print(f"{'':8} {'ingest items/s':>15} {'retrieve p50 ms':>16} {'p99 ms':>8} "
          f"{'cold build ms':>14}")
    for name in systems:
        qs = sorted(lat[name])
        print(f"{name:8} {args.items / ingest[name]:15.0f} {statistics.median(qs):16.3f} "
              f"{qs[int(len(qs) * 0.99) - 1]:8.3f} {cold[name]:14.1f}")
    for svc, _ in systems.values():
        svc.close()
        svc.db.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
