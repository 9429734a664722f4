"""Refit the priors of the general response set (``gateway/usecases/replies/responses.py``).

Each reply's prior is 0.2 + 8 × its mean weighted ROUGE (MRS: R1/6 + R2/3 + RL/2)
against the real replies of the tuning rows: file lines 1000-4999 of
``reddit-replies/valid.tsv`` (0-based), minus every pair of the seeded dev sample that
``persona eval smart-replies --limit 200`` reports on (seed 0), so the reported figure
is on rows no fit has seen. Prints old and new priors; edit ``responses.py`` by hand.

    .venv/bin/python benchmarks/fit_response_priors.py \\
        --data ../shared/data/reddit-replies/valid.tsv
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from evals.loaders import load_reply_tsv, select
    from evals.metrics import weighted_rouge
    from gateway.usecases.replies.responses import GENERAL

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, type=Path, help="reddit-replies valid.tsv")
    p.add_argument("--start", type=int, default=1000, help="first tuning line (0-based)")
    p.add_argument("--stop", type=int, default=5000, help="line after the last tuning line")
    p.add_argument("--dev-limit", type=int, default=200, help="size of the dev sample to leave out")
    p.add_argument("--seed", type=int, default=0, help="seed of the dev sample")
    args = p.parse_args()

    data = load_reply_tsv(args.data)
    # Example ids are "<stem>-<1-based line>"; the dev sample is what `persona eval` reports.
    dev = {e.id for e in select(data.examples, args.dev_limit, args.seed)}
    refs = [e.references[0] for e in data.examples
            if e.id not in dev and args.start < int(e.id.rsplit("-", 1)[1]) <= args.stop]
    print(f"{len(refs)} tuning pairs (lines {args.start}-{args.stop - 1}, "
          f"{len(dev)} dev-sample pairs left out)")
    for intent, text, prior in GENERAL:
        fitted = 0.2 + 8 * statistics.mean(weighted_rouge(text, [r]) for r in refs)
        print(f"{intent:9s} {text!r:32s} now {prior:.2f}  fitted {fitted:.2f}")


if __name__ == "__main__":
    main()
