"""benchmarks/aeslc_subjects.py's author split and train-only queries, on a tiny AESLC-shaped
folder: fitting on train never reads dev, and held-out authors are never fit authors."""

import importlib.util
import json
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "aeslc_subjects", Path(__file__).parents[1] / "benchmarks" / "aeslc_subjects.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _row(user, i, folder="sent"):
    return {"id": f"{user}_{folder}_{i}", "user": user, "folder": folder,
            "body": f"body {i} of {user}", "subject": f"subject {i}", "annotations": []}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_held_out_authors_are_dev_authors_never_in_the_fit_set(tmp_path):
    authors = [f"a{k}" for k in range(6)]
    _write(tmp_path / "train.jsonl", [_row(u, i) for u in authors for i in range(20)]
           + [_row("few", i) for i in range(3)] + [_row("a0", 99, "inbox")])
    _write(tmp_path / "dev.jsonl", [_row(u, 100 + i) for u in authors for i in range(4)])
    fit, held = bench.author_split(tmp_path)
    assert held and not fit & held and held <= set(authors)
    assert fit | held == set(authors) | {"few"}
    # about half the eligible dev emails are held out
    assert 12 <= 4 * len(held) <= 16
    assert bench.author_split(tmp_path) == (fit, held)  # seeded


def test_train_split_queries_are_held_out_train_emails_not_in_the_history(tmp_path):
    _write(tmp_path / "train.jsonl", [_row(u, i) for u in ("a", "b") for i in range(20)]
           + [_row("c", i) for i in range(11)])
    (tmp_path / "dev.jsonl").write_text("not read\n")
    examples, history, eligible = bench.load(tmp_path, 1000, 0, 13, split="train",
                                             authors={"a", "c"})
    # a: 20% of 20 are queries; b is not a fit author; c would keep < 10 history emails
    assert eligible == len(examples) == 4 and {e["user"] for e in examples} == {"a"}
    assert len(history["a"]) == 16
    assert not {e["id"] for e in examples} & {r["id"] for r in history["a"]}
