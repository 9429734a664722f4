"""Fit the subject-line ranker's weights on candidate pools from aeslc_subjects.py.

The ranker serves the argmax of ``features @ weights``, so top-1 ROUGE-1 for any
weights can be computed offline from the recorded pools, with no model or
embedder. Coordinate ascent over a small grid maximises the mean top-1 ROUGE-1
summed over the chosen configs (so the non-personalized pipeline is tuned as hard
as the personalized one), on the first half of the examples; the second half is
reported as a holdout.

    python benchmarks/tune_subject_ranker.py pools.json --configs personalized,plain
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GRID = (-1.0, -0.5, -0.25, 0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def top1(pool: list[dict], w: np.ndarray) -> float:
    total = 0.0
    for ex in pool:
        f = np.asarray(ex["features"], dtype=np.float32)
        total += ex["rouge1"][int(np.argmax(f @ w))]
    return total / max(len(pool), 1)


def objective(pools: dict[str, list], w: np.ndarray) -> float:
    return sum(top1(p, w) for p in pools.values())


def main(argv=None) -> None:
    from gateway.usecases.subjects.rank import DEFAULT_WEIGHTS, FEATURES

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pools", type=Path)
    p.add_argument("--configs", default="personalized,plain")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--freeze", default="preference",
                   help="weights not tuned here (no signal for them in AESLC)")
    args = p.parse_args(argv)
    data = json.loads(args.pools.read_text())
    configs = [c for c in args.configs.split(",") if c in data]
    half = {c: len(data[c]) // 2 for c in configs}
    train = {c: data[c][:half[c]] for c in configs}
    hold = {c: data[c][half[c]:] for c in configs}
    w = DEFAULT_WEIGHTS.vector().copy()
    frozen = set(args.freeze.split(","))
    best = objective(train, w)
    print(f"default: train {best:.2f}  " + "  ".join(
        f"{c} {top1(train[c], w):.2f}/{top1(hold[c], w):.2f}" for c in configs))
    for _ in range(args.rounds):
        for i, name in enumerate(FEATURES):
            if name in frozen:
                continue
            for v in GRID:
                trial = w.copy()
                trial[i] = v
                val = objective(train, trial)
                if val > best + 1e-6:
                    best, w = val, trial
    print("tuned:   " + "  ".join(f"{c} train {top1(train[c], w):.2f} holdout "
                                   f"{top1(hold[c], w):.2f}" for c in configs))
    print("oracle:  " + "  ".join(
        f"{c} {np.mean([max(e['rouge1']) for e in data[c]]):.2f}" for c in configs))
    print("weights: " + ",".join(f"{n}={float(x):g}" for n, x in zip(FEATURES, w)))


if __name__ == "__main__":
    main()
