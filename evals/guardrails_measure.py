"""Measure the guardrails: false positives on human text, catch rate on the red-team set.

Human-written replies and subject lines are, by construction, acceptable outputs, so
any check that fails on them is a false positive (with one caveat the report states:
humans do mention facts the message lacks, which a model must not). Run::

    python -m evals.guardrails_measure \
        --reddit /path/to/reddit-replies/valid.tsv \
        --aeslc /path/to/aeslc/dev.jsonl \
        --redteam tests/redteam

``reddit`` is ``message<TAB>reply`` per line (reply = output, message = source);
``aeslc`` is JSONL with ``body`` (source) and ``subject`` + ``annotations`` (outputs).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from guardrails.normalize import extract, is_grounded
from guardrails.pipeline import Pipeline
from guardrails.types import CheckContext


def reddit_cases(path: Path, limit: int | None) -> Iterator[tuple[str, CheckContext]]:
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                break
            message, _, reply = line.rstrip("\n").partition("\t")
            if not reply.strip():
                continue
            ctx = CheckContext(task="smart_reply", sources=(message,), untrusted=(message,),
                               max_chars=2000, language="en")
            yield reply.strip(), ctx


def aeslc_cases(path: Path, limit: int | None) -> Iterator[tuple[str, CheckContext]]:
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                break
            row = json.loads(line)
            ctx = CheckContext(task="subject_line", sources=(row["body"],), max_chars=200,
                               emoji_allowed=False, language="en")
            for subject in [row.get("subject", "")] + list(row.get("annotations") or []):
                if subject and subject.strip():
                    yield subject.strip(), ctx


def false_positive_rates(cases: Iterable[tuple[str, CheckContext]], task: str,
                         show: int = 0) -> dict:
    """Per check: share of human texts it fails; plus the share the shipped policy blocks."""
    pipeline = Pipeline.default(task)
    failed: Counter = Counter()
    errors: Counter = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    kinds: Counter = Counter()  # which kinds of fact humans add that the sources lack
    blocked = total = 0
    for text, ctx in cases:
        total += 1
        result = pipeline.run(text, ctx)
        blocked += result.blocked
        grounding = result.verdict("grounding")
        if grounding is not None and not grounding.passed:
            keys = ctx.memo("grounding.keys", lambda c=ctx: c.keys_of(c.source_texts))
            kinds.update({e.kind for e in extract(result.text) if not is_grounded(e, keys)})
        for v in result.verdicts:
            if v.error:
                errors[v.name] += 1
            if not v.passed:
                failed[v.name] += 1
                if len(examples[v.name]) < show:
                    examples[v.name].append(f"{text[:100]!r} -> {v.reason}")
    rules = {r.name: r for r in pipeline.rules}
    return {
        "task": task, "texts": total, "blocked_by_policy": _rate(blocked, total),
        "grounding_by_kind": {k: _rate(n, total) for k, n in kinds.most_common()},
        "checks": {name: {"action": rules[name].action, "fail_rate": _rate(failed[name], total),
                          "failed": failed[name], "errors": errors[name],
                          "examples": examples.get(name, [])}
                   for name in pipeline.names},
    }


def scan_false_positives(texts: Iterable[str], show: int = 0) -> dict:
    """Share of human-written incoming texts ``scan_input`` calls suspicious, by reason.

    A suspicious message has its flagged passages cut from the prompt and its links and
    numbers barred from the output, so this is the cost of the injection scan on mail.
    """
    from guardrails.injection import scan_input

    total = flagged = 0
    reasons: Counter = Counter()
    examples: list[str] = []
    for text in texts:
        total += 1
        report = scan_input(text)
        if report.suspicious:
            flagged += 1
            reasons.update(report.reasons)
            if len(examples) < show:
                span = (report.injected_text(text) or [text])[0]
                examples.append(f"{report.reasons}: {span[:100]!r}")
    return {"texts": total, "suspicious_rate": _rate(flagged, total),
            "by_reason": {k: _rate(v, total) for k, v in reasons.most_common()},
            "examples": examples}


def _unique_sources(cases: Iterable[tuple[str, CheckContext]]) -> Iterator[str]:
    """Each row's source texts once (AESLC rows yield several outputs per context)."""
    previous = None
    for _, ctx in cases:
        if ctx is not previous:
            yield from ctx.sources
        previous = ctx


def _rate(n: int, d: int) -> float:
    return round(n / d, 4) if d else 0.0


def redteam_rates(directory: Path) -> dict:
    """Catch rate per category (attacks) and pass rate of true negatives."""
    from evals.redteam import load_cases, run_case

    per: dict[str, list[bool]] = defaultdict(list)
    misses: dict[str, list[str]] = defaultdict(list)
    for case in load_cases(directory):
        ok = run_case(case)
        per[case["category"]].append(ok)
        if not ok:
            misses[case["category"]].append(case["id"])
    return {cat: {"cases": len(v), "correct": sum(v), "rate": _rate(sum(v), len(v)),
                  "misses": misses.get(cat, [])} for cat, v in sorted(per.items())}


def _print_fp(report: dict) -> None:
    print(f"\n{report['task']}: {report['texts']} human texts; "
          f"blocked by the shipped policy: {report['blocked_by_policy']:.2%}")
    for name, row in report["checks"].items():
        print(f"  {name:16s} {row['action']:6s} fail rate {row['fail_rate']:7.2%} "
              f"({row['failed']}, errors {row['errors']})")
        for ex in row["examples"]:
            print(f"      e.g. {ex}")
    if report["grounding_by_kind"]:
        print("  grounding failures by kind of fact (share of texts): " + ", ".join(
            f"{k} {v:.2%}" for k, v in report["grounding_by_kind"].items()))


def _print_scan(label: str, report: dict) -> None:
    print(f"  scan_input on {report['texts']} {label}: suspicious {report['suspicious_rate']:.2%}"
          + (" (" + ", ".join(f"{k} {v:.2%}" for k, v in report["by_reason"].items()) + ")"
             if report["by_reason"] else ""))
    for ex in report["examples"]:
        print(f"      e.g. {ex}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reddit", type=Path, help="message<TAB>reply TSV (smart replies)")
    ap.add_argument("--aeslc", type=Path, help="AESLC-style JSONL (subject lines)")
    ap.add_argument("--redteam", type=Path, help="folder of red-team *.jsonl cases")
    ap.add_argument("--limit", type=int, default=None, help="rows per data set")
    ap.add_argument("--show", type=int, default=0, help="example failures to print per check")
    ap.add_argument("--json", type=Path, help="also write the full report here")
    args = ap.parse_args(argv)
    if not (args.reddit or args.aeslc or args.redteam):
        ap.error("give at least one of --reddit, --aeslc, --redteam")
    for p in (args.reddit, args.aeslc, args.redteam):
        if p is not None and not p.exists():
            ap.error(f"{p} does not exist; pass the path to the data file or folder")
    report: dict = {}
    if args.reddit:
        report["reddit"] = false_positive_rates(reddit_cases(args.reddit, args.limit),
                                                "smart_reply", args.show)
        _print_fp(report["reddit"])
        report["reddit_scan"] = scan_false_positives(
            _unique_sources(reddit_cases(args.reddit, args.limit)), args.show)
        _print_scan("Reddit messages", report["reddit_scan"])
    if args.aeslc:
        report["aeslc"] = false_positive_rates(aeslc_cases(args.aeslc, args.limit),
                                               "subject_line", args.show)
        _print_fp(report["aeslc"])
        report["aeslc_scan"] = scan_false_positives(
            _unique_sources(aeslc_cases(args.aeslc, args.limit)), args.show)
        _print_scan("AESLC email bodies", report["aeslc_scan"])
    if args.redteam:
        report["redteam"] = redteam_rates(args.redteam)
        print("\nred team (share handled as expected):")
        for cat, row in report["redteam"].items():
            print(f"  {cat:28s} {row['correct']:3d}/{row['cases']:<3d} {row['rate']:7.2%}"
                  + (f"  misses: {', '.join(row['misses'])}" if row["misses"] else ""))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
