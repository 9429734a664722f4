"""Plots for the HTML report, rendered by matplotlib (Agg) as inline SVG strings.

Fonts become paths (self-contained), and each figure gets its own hash salt so
the element ids of two inline SVGs never collide in one page.
"""

from __future__ import annotations

import io

BAR_METRICS = ("mrs", "rouge1", "rouge2", "rougeL", "rouge1_alt", "bleu", "embed_sim",
               "distinct2_per_request", "self_sim", "unsupported_rate", "model_fallback_rate",
               "trigger_rate", "attributed")


def _svg(fig, salt: str) -> str:
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "path"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def metric_bars(ci: dict[str, dict[str, dict]], variants: list[str]) -> str | None:
    """One small panel per metric: a bar per variant with its 95% bootstrap CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in BAR_METRICS if any(m in ci.get(v, {}) for v in variants)]
    if not metrics:
        return None
    cols = min(4, len(metrics))
    rows = (len(metrics) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes.flat, metrics):
        means, errs = [], [[], []]
        for v in variants:
            c = ci.get(v, {}).get(metric)
            m = c["mean"] if c else 0.0
            means.append(m)
            errs[0].append(m - c["ci_low"] if c else 0.0)
            errs[1].append(c["ci_high"] - m if c else 0.0)
        ax.bar(range(len(variants)), means, yerr=errs, capsize=4,
               color=[colors[i % len(colors)] for i in range(len(variants))])
        ax.set_xticks(range(len(variants)), variants, rotation=20, fontsize=8)
        ax.set_title(metric, fontsize=10)
        ax.tick_params(axis="y", labelsize=8)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    fig.suptitle("Mean per variant, 95% bootstrap CI", fontsize=11)
    fig.tight_layout()
    return _svg(fig, "metric-bars")


def latency_hist(latencies: dict[str, list[float]]) -> str | None:
    """Latency distribution per variant (wall clock per request), p95 marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    data = {v: np.asarray(x, dtype=float) for v, x in latencies.items() if len(x)}
    if not data:
        return None
    top = max(float(x.max()) for x in data.values())
    bins = np.linspace(0, max(top, 1.0), 40)
    fig, ax = plt.subplots(figsize=(7, 3))
    for i, (v, x) in enumerate(data.items()):
        color = f"C{i % 10}"
        ax.hist(x, bins=bins, histtype="step", linewidth=1.5, label=v, color=color)
        ax.axvline(float(np.percentile(x, 95)), color=color, linestyle=":", linewidth=1)
    ax.set_xlabel("latency (ms); dotted line = p95")
    ax.set_ylabel("requests")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _svg(fig, "latency")


def rate_timeline(timeline: list[dict], variants: list[str], metric: str) -> str | None:
    """An experiment's cumulative rate per variant over time, with its CI as a band."""
    if not timeline:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from datetime import datetime

    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    at = [datetime.fromisoformat(p["at"]) if isinstance(p["at"], str) else p["at"]
          for p in timeline]
    for i, v in enumerate(variants):
        rates = [p["rates"][v] for p in timeline]
        color = f"C{i % 10}"
        ax.plot(at, [r["rate"] for r in rates], color=color, label=v, linewidth=1.5)
        ax.fill_between(at, [r["ci_low"] for r in rates], [r["ci_high"] for r in rates],
                        color=color, alpha=0.2, linewidth=0)
    ax.set_ylabel(f"{metric} (cumulative)")
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(mdates.AutoDateLocator()))
    ax.legend(fontsize=8)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _svg(fig, "rate-timeline")


def lift_intervals(lifts: dict[str, dict], metric: str) -> str | None:
    """Each treatment's relative lift over control with its CI; the dashed line is 0."""
    shown = {v: x for v, x in lifts.items() if x.get("lift") is not None}
    if not shown:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 0.6 + 0.5 * len(shown)))
    for y, (v, x) in enumerate(shown.items()):
        low, high = x["lift_ci"]
        ax.errorbar([x["lift"]], [y], xerr=[[x["lift"] - low], [high - x["lift"]]], fmt="o",
                    capsize=4, color="C1" if x["significant"] else "C7")
    ax.axvline(0, color="#444", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(shown)), list(shown), fontsize=8)
    ax.set_xlabel(f"lift in {metric} over control (relative; grey: CI includes 0)")
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return _svg(fig, "lift-intervals")
