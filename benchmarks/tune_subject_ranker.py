"""Fit the subject-line ranker's weights on candidate pools from aeslc_subjects.py.

The ranker serves the argmax of ``features @ weights``, so top-1 ROUGE-1 for any
weights can be computed offline from the recorded pools, with no model or
embedder. Coordinate ascent over a small grid maximises the mean top-1 ROUGE-1
summed over the chosen configs (so the non-personalized pipeline is tuned as hard
as the personalized one), on the first half of the examples; the second half is
reported as a holdout.

    python benchmarks/tune_subject_ranker.py pools.json --configs personalized,plain

``--folds K`` cross-validates instead: the examples (or, with ``--group author``, the
authors, so no fold is scored on an author its weights saw) are split in K folds; weights
fitted on K-1 folds choose the subjects of the K-th. The first two configs are then
compared on those held-out choices (relative ROUGE-1 lift, paired bootstrap 95% CI):

    python benchmarks/tune_subject_ranker.py pools.json --configs rules,rules_plain \
        --folds 2 --group author

``--test POOLS`` fits on every example of ``pools.json`` (no half split) and scores the
fitted and the shipped weights on the other pools, e.g. train-fitted weights on dev
emails of authors the fit never saw (``--test-authors`` names a JSON file with a
``heldout`` list, as ``aeslc_subjects.py --list-authors`` prints):

    python benchmarks/tune_subject_ranker.py train_pools.json --configs rules,rules_plain \
        --init neutral --test dev_pools.json --test-authors authors.json

``--init neutral`` starts the ascent from relevance alone (the shipped weights were
fitted on dev emails; starting there would carry that fit into a train-only one).
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


def fit(train: dict[str, list], w: np.ndarray, frozen: set[str], rounds: int) -> np.ndarray:
    """Coordinate ascent over GRID, one weight at a time, from ``w``."""
    from gateway.usecases.subjects.rank import FEATURES

    best = objective(train, w)
    for _ in range(rounds):
        for i, name in enumerate(FEATURES):
            if name in frozen:
                continue
            for v in GRID:
                trial = w.copy()
                trial[i] = v
                val = objective(train, trial)
                if val > best + 1e-6:
                    best, w = val, trial
    return w


def cross_validate(data: dict[str, list], configs: list[str], *, folds: int, group: str,
                   w0: np.ndarray, frozen: set[str], rounds: int, seed: int = 0) -> dict:
    """Held-out top-1 ROUGE-1 per example for each config, and the first config's lift
    over the second with a paired bootstrap CI."""
    first, second = configs[0], configs[1]
    by_id = {c: {e["id"]: e for e in data[c]} for c in configs}
    ids = sorted(set.intersection(*(set(by_id[c]) for c in configs)))
    key = (lambda i: by_id[first][i]["user"]) if group == "author" else (lambda i: i)
    groups = sorted({key(i) for i in ids})
    rng = np.random.default_rng(seed)
    fold_of = {g: k % folds for k, g in enumerate(rng.permutation(groups))}
    held: dict[str, dict[str, float]] = {c: {} for c in configs}
    for k in range(folds):
        train = {c: [by_id[c][i] for i in ids if fold_of[key(i)] != k] for c in configs}
        w = fit(train, w0.copy(), frozen, rounds)
        for c in configs:
            for i in ids:
                if fold_of[key(i)] == k:
                    e = by_id[c][i]
                    f = np.asarray(e["features"], dtype=np.float32)
                    held[c][i] = e["rouge1"][int(np.argmax(f @ w))]
    a = np.array([held[first][i] for i in ids])
    b = np.array([held[second][i] for i in ids])
    boot = rng.integers(0, len(ids), size=(2000, len(ids)))
    lifts = a[boot].mean(axis=1) / b[boot].mean(axis=1) - 1
    return {"examples": len(ids), "groups": len(groups), first: float(a.mean()),
            second: float(b.mean()), "lift": float(a.mean() / b.mean() - 1),
            "lift_ci": [float(np.percentile(lifts, 2.5)), float(np.percentile(lifts, 97.5))]}


def neutral_start() -> np.ndarray:
    """Relevance alone, the rest 0, ``preference`` as shipped (AESLC has no signal for it)."""
    from gateway.usecases.subjects.rank import DEFAULT_WEIGHTS, FEATURES

    w = np.zeros(len(FEATURES), dtype=np.float32)
    w[FEATURES.index("relevance")] = 1.0
    w[FEATURES.index("preference")] = DEFAULT_WEIGHTS.preference
    return w


def transfer(test: dict[str, list], configs: list[str], weights: dict[str, np.ndarray], *,
             seed: int = 0) -> dict:
    """Each weight set's top-1 ROUGE-1 per config on ``test`` and the first config's
    paired difference over the second (points, bootstrap 95% CI)."""
    first, second = configs[0], configs[1]
    by_id = {c: {e["id"]: e for e in test[c]} for c in configs}
    ids = sorted(set.intersection(*(set(by_id[c]) for c in configs)))
    boot = np.random.default_rng(seed).integers(0, len(ids), size=(2000, len(ids)))
    out: dict = {"examples": len(ids), "authors": len({by_id[first][i]["user"] for i in ids})}
    for name, w in weights.items():
        picks = {c: np.array([by_id[c][i]["rouge1"][int(np.argmax(
            np.asarray(by_id[c][i]["features"], dtype=np.float32) @ w))] for i in ids])
            for c in configs}
        d = picks[first] - picks[second]
        diffs = d[boot].mean(axis=1)
        out[name] = {**{c: round(float(v.mean()), 2) for c, v in picks.items()},
                     "diff": round(float(d.mean()), 2),
                     "diff_ci": [round(float(np.percentile(diffs, q)), 2) for q in (2.5, 97.5)],
                     "lift": round(float(picks[first].mean() / picks[second].mean() - 1), 4)}
    return out


def main(argv=None) -> None:
    from gateway.usecases.subjects.rank import DEFAULT_WEIGHTS, FEATURES

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pools", type=Path)
    p.add_argument("--configs", default="personalized,plain")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--freeze", default="preference",
                   help="weights not tuned here (no signal for them in AESLC)")
    p.add_argument("--folds", type=int, default=0, help="cross-validate with this many folds")
    p.add_argument("--group", choices=["example", "author"], default="example",
                   help="what a fold holds out (--folds)")
    p.add_argument("--seed", type=int, default=0, help="fold assignment and bootstrap")
    p.add_argument("--init", choices=["shipped", "neutral"], default="shipped",
                   help="where the ascent starts")
    p.add_argument("--test", type=Path, help="fit on all of POOLS, score on these pools")
    p.add_argument("--test-authors", type=Path,
                   help="JSON with a 'heldout' author list: --test scores only their emails")
    args = p.parse_args(argv)
    data = json.loads(args.pools.read_text())
    configs = [c for c in args.configs.split(",") if c in data]
    w0 = DEFAULT_WEIGHTS.vector().copy() if args.init == "shipped" else neutral_start()
    frozen = set(args.freeze.split(","))
    if args.test:
        test = json.loads(args.test.read_text())
        if args.test_authors:
            keep = set(json.loads(args.test_authors.read_text())["heldout"])
            test = {c: [e for e in v if e["user"] in keep] for c, v in test.items()}
            seen = {e["user"] for v in data.values() for e in v} & keep
            if seen:
                p.error(f"--test-authors {sorted(seen)} are in the fitting pools too")
        w = fit(data, w0.copy(), frozen, args.rounds)
        print("fitted:  " + ",".join(f"{n}={float(x):g}" for n, x in zip(FEATURES, w)))
        print(json.dumps(transfer(test, configs, {"fitted": w,
                                                  "shipped": DEFAULT_WEIGHTS.vector()},
                                  seed=args.seed), indent=2))
        return
    if args.folds:
        if len(configs) < 2:
            p.error("--folds compares two configs: --configs PERSONALIZED,PLAIN")
        cv = cross_validate(data, configs, folds=args.folds, group=args.group,
                            w0=w0, frozen=frozen, rounds=args.rounds,
                            seed=args.seed)
        print(json.dumps(cv, indent=2))
        return
    half = {c: len(data[c]) // 2 for c in configs}
    train = {c: data[c][:half[c]] for c in configs}
    hold = {c: data[c][half[c]:] for c in configs}
    w = w0.copy()
    print(f"start: train {objective(train, w):.2f}  " + "  ".join(
        f"{c} {top1(train[c], w):.2f}/{top1(hold[c], w):.2f}" for c in configs))
    w = fit(train, w, frozen, args.rounds)
    print("tuned:   " + "  ".join(f"{c} train {top1(train[c], w):.2f} holdout "
                                   f"{top1(hold[c], w):.2f}" for c in configs))
    print("oracle:  " + "  ".join(
        f"{c} {np.mean([max(e['rouge1']) for e in data[c]]):.2f}" for c in configs))
    print("weights: " + ",".join(f"{n}={float(x):g}" for n, x in zip(FEATURES, w)))


if __name__ == "__main__":
    main()
