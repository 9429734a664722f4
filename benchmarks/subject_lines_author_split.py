"""A `persona eval subject-lines` AESLC run, split by author: fit vs held-out authors.

The ranker weights are fitted on train emails of the *fit* authors only
(``aeslc_subjects.py --split train --authors fit``); this reads the run's
``results.jsonl`` and reports each variant on the dev emails of the *held-out*
authors (neither their emails nor their authors were seen by the fit), of the fit
authors, and of all, with the first variant's paired difference over the second
(bootstrap 95 % CI, the eval's own ``evals.compare.paired_bootstrap``). It also
says where the first variant's top line came from: the author's own past subject
(``history``: it equals one of their train subjects, reply prefix stripped) or not,
with ROUGE-1 against the author and against the annotators for each, which is
what explains ``rouge1_alt``.

    python benchmarks/subject_lines_author_split.py runs/sl753 --data ../shared/data/aeslc \
        --variants personalized,plain
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

METRICS = ("rouge1", "rouge1_alt", "unsupported_rate")


def _strip(subject: str) -> str:
    s = " ".join(subject.split()).lower()
    while s[:3] in ("re:", "fw:") or s[:4] == "fwd:":
        s = s[s.index(":") + 1:].strip()
    return s


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.fmean(xs), 4) if xs else None


def report(records: list[dict], users: dict[str, str], split: dict[str, set[str]],
           past: dict[str, set[str]], variants: list[str], seed: int = 0) -> dict:
    from evals.compare import paired_bootstrap

    by = defaultdict(dict)
    for r in records:
        if r["variant"] in variants:
            by[r["variant"]][r["id"]] = r
    first, second = variants[0], variants[1]
    out: dict = {}
    for name, authors in split.items():
        ids = sorted(i for i in set(by[first]) & set(by[second]) if users.get(i) in authors)
        part: dict = {"examples": len(ids), "authors": len({users[i] for i in ids})}
        for v in variants:
            part[v] = {m: _mean(by[v][i]["scores"].get(m) for i in ids) for m in METRICS}
        for m in ("rouge1", "rouge1_alt"):
            cmp = paired_bootstrap({i: by[second][i]["scores"][m] for i in ids},
                                   {i: by[first][i]["scores"][m] for i in ids}, seed=seed)
            part[f"{first}-{second}.{m}"] = {k: round(v, 3) if isinstance(v, float) else v
                                             for k, v in (cmp or {}).items()}
            b = part[second][m]
            part[f"{first}-{second}.{m}"]["relative"] = (
                round(part[first][m] / b - 1, 4) if b else None)
        out[name] = part
    # Where the first variant's top line came from, and how each source scores.
    origin = defaultdict(list)
    for i, r in by[first].items():
        sugg = (r.get("response") or {}).get("suggestions") or []
        if not sugg:
            continue
        top = sugg[0]
        kind = ("llm" if top.get("source") == "llm" else
                "history" if _strip(top["text"]) in past.get(users.get(i), ()) else "body")
        origin[kind].append(r["scores"])
    n = sum(len(v) for v in origin.values())
    out["top_line_origin"] = {k: {"share": round(len(v) / n, 4),
                                  "rouge1": _mean(s["rouge1"] for s in v),
                                  "rouge1_alt": _mean(s.get("rouge1_alt") for s in v)}
                              for k, v in sorted(origin.items())}
    return out


def main(argv=None) -> None:
    from aeslc_subjects import _rows, _usable, author_split

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="the --out folder of persona eval subject-lines")
    p.add_argument("--data", type=Path, required=True, help="folder with AESLC train/dev.jsonl")
    p.add_argument("--variants", default="personalized,plain")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    with open(args.run / "results.jsonl", encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    users = {r["id"]: r["user"] for r in _rows(args.data, "dev.jsonl")}
    past: dict[str, set[str]] = defaultdict(set)
    for r in _rows(args.data, "train.jsonl"):
        if _usable(r):
            past[r["user"]].add(_strip(r["subject"]))
    fit, held = author_split(args.data)
    split = {"heldout_authors": held, "fit_authors": fit, "all": fit | held}
    print(json.dumps(report(records, users, split, past, args.variants.split(","),
                            seed=args.seed), indent=2))


if __name__ == "__main__":
    main()
