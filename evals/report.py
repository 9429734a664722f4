"""Reports: ``metrics.json`` (machine-readable, with provenance), ``report.md`` and a
self-contained ``report.html`` (inline SVG plots, no external assets).

Provenance is what lets an evaluator trust a number later: git revision (and
whether the tree was dirty), settings, models, prompt versions with the
template's sha256, the seed, and the sha256 of every data file read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from evals import metrics as M
from evals import plots
from evals.compare import (
    bootstrap_mean,
    compare_variants,
    paired_bootstrap_distinct,
    paired_ratio,
)
from evals.loaders import Example
from evals.scoring import CORPUS_DISTINCT, HIGHER_IS_BETTER, Evaluator, per_example, served_texts

ROOT = Path(__file__).resolve().parent.parent
HIGHLIGHTS = 5


def git_info(root: Path = ROOT) -> dict:
    def run(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    rev = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"revision": rev, "dirty": bool(status) if status is not None else None}


def prompt_info(versions: set[str]) -> dict[str, str | None]:
    """Prompt version -> sha256 of its template file (None when no such file)."""
    out = {}
    for v in sorted(versions):
        path = ROOT / "prompts" / "templates" / f"{v}.j2"
        out[v] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    return out


def summarize(*, task: str, evaluator: Evaluator, variants: list, described: dict[str, dict],
              records: dict[str, list[dict]], examples: list[Example], dataset, seed: int,
              extra: dict) -> dict:
    """The metrics.json payload. ``records`` is variant name -> result records."""
    names = [v.name for v in variants]
    per = {n: per_example(records[n]) for n in names}
    out_variants = {}
    for v in variants:
        recs = records[v.name]
        versions = {r["response"].get("prompt_version") for r in recs if r.get("response")}
        models = sorted({r["response"].get("model") for r in recs
                         if r.get("response") and r["response"].get("model")})
        desc = described.get(v.name, {})
        out_variants[v.name] = {
            "kind": v.kind, "baseline": v.baseline,
            "policy": None if v.baseline else dataclasses.asdict(v.policy),
            "config": str(v.config) if v.config else None,
            "models_configured": desc.get("models"), "models_served": models,
            "prompt_versions": prompt_info({x for x in versions if x}),
            "runner": desc.get("runner"), "settings": desc.get("settings"),
            "metrics": evaluator.aggregate(recs),
            "ci": {m: bootstrap_mean(vals.values(), seed=seed) for m, vals in per[v.name].items()},
        }
    base = names[0]
    primary = evaluator.primary_metric
    comparisons = compare_variants(per, seed=seed)
    for n, metric in CORPUS_DISTINCT.items():
        grams = {v: {r["id"]: M.ngrams(served_texts(r), n) for r in records[v]} for v in names}
        for v in names[1:]:
            got = paired_bootstrap_distinct(grams[base], grams[v], seed=seed)
            if got is not None:
                comparisons[v][metric] = got
    ratios = {v: paired_ratio(per[base].get(primary, {}), per[v].get(primary, {}), seed=seed)
              for v in names[1:]}
    scored = per[base].get(primary, {})
    order = sorted(scored, key=lambda i: (-scored[i], i))
    return {
        "task": task,
        "primary_metric": primary,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": git_info(),
        "seed": seed,
        "data": {"format": dataset.format, "files": dataset.files, "notes": dataset.notes,
                 "examples_available": len(dataset.examples), "examples_evaluated": len(examples)},
        "baseline": base,
        "variants": out_variants,
        "comparisons": comparisons,
        # primary metric, baseline / variant (e.g. full / constant MRS), paired bootstrap CI
        "ratios": {"metric": primary, "numerator": base,
                   "by_variant": {v: r for v, r in ratios.items() if r is not None}},
        "highlights": {"by": f"{base}.{primary}", "best": order[:HIGHLIGHTS],
                       "worst": list(reversed(order[-HIGHLIGHTS:])) if order else []},
        **extra,
    }


def _fmt(metric: str, value) -> str:
    if value is None:
        return "–"
    if metric.startswith("latency"):
        return f"{value:.0f}"
    if metric in ("bleu", "examples", "n_suggestions"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def _rows(summary: dict) -> tuple[list[str], list[str]]:
    """Metric rows (primary first) and variant columns for the side-by-side table."""
    names = list(summary["variants"])
    keys: list[str] = []
    for v in names:
        for k in summary["variants"][v]["metrics"]:
            if k not in keys:
                keys.append(k)
    primary = summary["primary_metric"]
    # A guardrail rate that is 0 for every variant says nothing; metrics.json keeps it.
    keys = [k for k in keys if not k.startswith("guardrail.") or any(
        summary["variants"][v]["metrics"].get(k) for v in names)]
    keys.sort(key=lambda k: (k != primary, k.startswith(("guardrail.", "fallback_rate.")), k))
    return keys, names


def _cell(summary: dict, variant: str, metric: str) -> str:
    value = summary["variants"][variant]["metrics"].get(metric)
    text = _fmt(metric, value)
    cmp = summary["comparisons"].get(variant, {}).get(metric)
    if cmp:
        mark = " *" if cmp["significant"] else ""
        # fewer pairs than examples: the metric is undefined for some (e.g. < 2 suggestions)
        few = "" if cmp["n"] >= summary["data"]["examples_evaluated"] else f", n={cmp['n']}"
        text += f" ({cmp['diff']:+.3g} [{cmp['ci_low']:+.3g}, {cmp['ci_high']:+.3g}]{mark}{few})"
    return text


def _example_view(summary: dict, examples: dict[str, Example], records: dict[str, list[dict]],
                  ex_id: str) -> dict:
    ex = examples[ex_id]
    req = ex.request
    source = (req.get("message", {}).get("body") if "message" in req
              else req.get("campaign", {}).get("body", ""))
    outputs = {}
    for v, recs in records.items():
        rec = next((r for r in recs if r["id"] == ex_id), None)
        if rec is None:
            continue
        texts = [s["text"] for s in (rec.get("response") or {}).get("suggestions") or []]
        outputs[v] = {"texts": texts, "error": rec.get("error"),
                      "score": rec["scores"].get(summary["primary_metric"])}
    return {"id": ex_id, "input": (source or "")[:300] + ("…" if len(source or "") > 300 else ""),
            "references": ex.references, "outputs": outputs}


def ratio_text(summary: dict, variant: str) -> str:
    r = summary["ratios"]
    got = r["by_variant"][variant]
    ci = (f" [{got['ci_low']:.2f}, {got['ci_high']:.2f}]" if got["ci_low"] is not None
          else " (no CI: a resample averaged 0)")
    return f"{r['numerator']} / {variant} {r['metric']} = {got['ratio']:.2f}{ci}"


def ratio_lines(summary: dict) -> list[str]:
    """The primary metric as a ratio of the baseline to each variant (paired 95% CI)."""
    by = (summary.get("ratios") or {}).get("by_variant") or {}
    if not by:
        return []
    return ["", "Ratios of the primary metric (paired bootstrap 95% CI):", ""] + [
        f"- {ratio_text(summary, v)}" for v in by]


def render_markdown(summary: dict, highlights: dict[str, list[dict]]) -> str:
    keys, names = _rows(summary)
    p = summary["primary_metric"]
    lines = [f"# Eval: {summary['task']}", "",
             (f"Primary metric: **{p}** · baseline: **{summary['baseline']}** · "
              f"{summary['data']['examples_evaluated']} examples · seed {summary['seed']} · "
              f"git {summary['git']['revision'] or 'unknown'}"
              f"{' (dirty)' if summary['git']['dirty'] else ''}"), "",
             ("Differences vs the baseline are paired bootstrap means with 95% CIs; "
              "`*` = the CI excludes 0."), "",
             "| metric | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for k in keys:
        arrow = {True: " ↑", False: " ↓"}.get(HIGHER_IS_BETTER.get(k), "")
        lines.append(f"| {k}{arrow} | " + " | ".join(_cell(summary, v, k) for v in names) + " |")
    lines += ratio_lines(summary)
    for sec in summary.get("sections") or []:
        lines += ["", f"## {sec['title']}", "", "| " + " | ".join(sec["header"]) + " |",
                  "|---" * len(sec["header"]) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in sec["rows"]]
        if sec.get("note"):
            lines += ["", sec["note"]]
    lines += ["", "## Provenance", ""]
    for v, info in summary["variants"].items():
        lines.append(f"- **{v}**: models {info['models_served'] or info['models_configured']}, "
                     f"prompts {list(info['prompt_versions']) or '–'}, "
                     f"config {info['config'] or 'environment'}")
    for role, f in summary["data"]["files"].items():
        lines.append(f"- {role}: `{f['path']}` sha256 `{f['sha256'][:16]}…` ({f['rows']} rows)")
    for t in summary.get("invocations") or []:
        if t.get("seconds"):
            lines += ["", (f"## Timing: run of {t['at']} (concurrency {t['concurrency']}, "
                           f"load average {t['loadavg_start'][0]:.1f} → "
                           f"{t['loadavg_end'][0]:.1f} on {t['cpu_count']} CPUs, git "
                           f"{(t.get('git') or {}).get('revision') or 'unknown'})"), ""]
            lines += [f"- {k}: {v:.1f}s" + (f" ({t['ran'][k]} examples)" if k in t["ran"] else "")
                      for k, v in t["seconds"].items()]
    for label, items in highlights.items():
        lines += ["", f"## {label.capitalize()} examples (by {summary['highlights']['by']})", ""]
        for ex in items:
            lines.append(f"- `{ex['id']}` — input: {ex['input'][:120]!r}; "
                         f"reference: {ex['references'][0]!r}")
            for v, o in ex["outputs"].items():
                lines.append(f"  - {v} ({_fmt(p, o['score'])}): "
                             + (" | ".join(o["texts"]) or o["error"] or "(nothing)"))
    gate = summary.get("gate") or []
    if gate:
        lines += ["", "## CI gate", ""]
        lines += [f"- {'PASS' if g['passed'] else 'FAIL'} `{g['spec']}`"
                  + (f": {g['reason']}" if g["reason"] else "") for g in gate]
    return "\n".join(lines) + "\n"


def write_reports(out: Path, summary: dict, examples: list[Example],
                  records: dict[str, list[dict]]) -> None:
    """Write metrics.json, report.md and report.html into ``out``."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    by_id = {e.id: e for e in examples}
    highlights = {k: [_example_view(summary, by_id, records, i) for i in summary["highlights"][k]]
                  for k in ("best", "worst")}
    (out / "metrics.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    (out / "report.md").write_text(render_markdown(summary, highlights))
    names = list(summary["variants"])
    ci = {v: {m: c for m, c in info["ci"].items() if c} for v, info in summary["variants"].items()}
    latencies = {v: [r["scores"]["latency_ms"] for r in records[v]] for v in names}
    keys, _ = _rows(summary)
    env = Environment(loader=PackageLoader("evals", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("report.html.j2").render(
        s=summary, names=names, keys=keys, cell=lambda v, k: _cell(summary, v, k),
        arrow=lambda k: {True: "↑", False: "↓"}.get(HIGHER_IS_BETTER.get(k), ""),
        bars=plots.metric_bars(ci, names), latency=plots.latency_hist(latencies),
        highlights=highlights, fmt=_fmt,
        ratios=[ratio_text(summary, v) for v in (summary.get("ratios") or {}).get("by_variant", {})],
    )
    (out / "report.html").write_text(html)
