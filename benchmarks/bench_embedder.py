"""Embedding backends side by side: same retrieval? how fast per query and per text?

For each ``--backends`` entry (``torch``, ``onnx``, ``onnx-int8``; the model is the
packaged all-MiniLM-L6-v2, exported locally for the ONNX ones):

- **retrieval agreement with torch**: the first ``--pairs`` Reddit (message, reply)
  pairs become history items (indexed text as at ingest: ``embedding_text``); the
  next ``--queries`` messages are incoming queries. Per query, top-k by cosine over
  the items, per backend; reported against torch: overlap@k (|A ∩ B| / k, mean),
  share of queries with the same top-k set, same top-1, and how relevant its picks
  are by torch's own cosine (sum over its top-k / sum over torch's top-k).
- **cosine to torch's vectors** of every text embedded (min, 1st percentile, mean).
- **query latency**: ``embed_one`` of one message, c=1, ``--threads`` threads
  (the serving setting ``embedding_threads``), backends interleaved per query.
- **embed-only throughput** of the item texts (batch 64), wall texts/s and texts
  per CPU-second (``process_time``: less sensitive to a loaded box), interleaved.

Usage: ``python benchmarks/bench_embedder.py --data ../shared/data/reddit-replies/valid.tsv``
Writes ``benchmarks/results/embedder-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.core.offline import offline_env

offline_env()

import numpy as np

from embeddings.embedder import Embedder, load_embedder
from embeddings.history import embedding_text
from embeddings.items import HistoryItem
from gateway.core.settings import Settings, default_embedding_model


def read_pairs(path: Path, n: int) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        msg, _, reply = line.partition("\t")
        if msg.strip() and reply.strip():
            out.append((msg.strip(), reply.strip()))
        if len(out) >= n:
            break
    return out


def load(backend: str, threads: int, cache: Path) -> Embedder:
    s = Settings(load_models=False)
    return load_embedder(default_embedding_model(), batch_size=64, threads=threads,
                         max_tokens=s.embedding_max_tokens, backend=backend, cache_dir=cache)


def topk(items: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ items.T), axis=1, kind="stable")[:, :k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="Reddit pairs TSV (message<TAB>reply).")
    ap.add_argument("--pairs", type=int, default=300, help="History items.")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--backends", default="torch,onnx,onnx-int8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--latency-queries", type=int, default=100)
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="ONNX export cache (default: the gateway's embedding cache dir).")
    args = ap.parse_args()
    backends = args.backends.split(",")
    if backends[0] != "torch":
        backends.insert(0, "torch")
    cache = args.cache_dir or Settings(load_models=False).embedder_cache_dir
    pairs = read_pairs(args.data, args.pairs + args.queries)
    items = [embedding_text(HistoryItem(id=str(j), kind="sent_reply", text=r, context=m))
             for j, (m, r) in enumerate(pairs[:args.pairs])]
    queries = [m for m, _ in pairs[args.pairs:]]
    embs = {b: load(b, args.threads, cache) for b in backends}
    res: dict = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_avg_at_start": os.getloadavg(),
                 "items": len(items), "queries": len(queries), "k": args.k,
                 "threads": args.threads, "backends": {}}
    vec = {b: (e.embed(items), e.embed(queries)) for b, e in embs.items()}
    ref_top = topk(*vec["torch"], args.k)
    ref_scores = vec["torch"][1] @ vec["torch"][0].T
    for b in backends:
        top = topk(*vec[b], args.k)
        cos = np.concatenate([(vec[b][i] * vec["torch"][i]).sum(1) for i in (0, 1)])
        overlap = [len(set(a) & set(r)) / args.k for a, r in zip(top, ref_top)]
        res["backends"][b] = {
            "name": embs[b].name,
            f"overlap@{args.k}": round(float(np.mean(overlap)), 4),
            f"same_top{args.k}_set": round(float(np.mean([o == 1 for o in overlap])), 4),
            "same_top1": round(float(np.mean(top[:, 0] == ref_top[:, 0])), 4),
            # How relevant this backend's picks are by torch's own scores (1.0: as good)
            f"torch_score_ratio@{args.k}": round(float(np.mean(
                [ref_scores[i, top[i]].sum() / ref_scores[i, ref_top[i]].sum()
                 for i in range(len(top))])), 4),
            "cosine_min": round(float(cos.min()), 4),
            "cosine_p1": round(float(np.percentile(cos, 1)), 4),
            "cosine_mean": round(float(cos.mean()), 5)}
    lat: dict[str, list[float]] = {b: [] for b in backends}
    for q in queries[:args.latency_queries]:
        for b, e in embs.items():
            t0 = time.perf_counter()
            e.embed_one(q)
            lat[b].append(time.perf_counter() - t0)
    wall: dict[str, list[float]] = {b: [] for b in backends}
    cpu: dict[str, list[float]] = {b: [] for b in backends}
    for _ in range(2):
        for b, e in embs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            e.embed(items)
            wall[b].append(len(items) / (time.perf_counter() - t0))
            cpu[b].append(len(items) / max(time.process_time() - c0, 1e-9))
    for b in backends:
        res["backends"][b].update({
            "query_ms_p50": round(float(np.percentile(lat[b], 50)) * 1e3, 2),
            "query_ms_p99": round(float(np.percentile(lat[b], 99)) * 1e3, 2),
            "embed_texts_per_s": round(max(wall[b]), 1),
            "embed_texts_per_cpu_s": round(max(cpu[b]), 1)})
    res["load_avg_at_end"] = os.getloadavg()
    print(json.dumps(res, indent=2))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"embedder-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(res, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
