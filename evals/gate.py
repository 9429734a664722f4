"""CI gate: ``--fail-under METRIC=VALUE`` (and ``--fail-over`` for lower-is-better
metrics such as latency or fallback rate). ``VARIANT:METRIC=VALUE`` targets a
variant other than the first. A metric that was not measured fails the gate:
a typo must not pass silently."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.errors import ConfigError


@dataclass(frozen=True)
class Threshold:
    spec: str
    variant: str | None
    metric: str
    op: str  # "under": fail when value < threshold; "over": fail when value > threshold
    value: float


def parse(specs: list[str] | None, op: str) -> list[Threshold]:
    out = []
    for spec in specs or []:
        left, sep, right = spec.partition("=")
        variant, _, metric = left.strip().rpartition(":")
        try:
            value = float(right)
        except ValueError:
            value = None
        if not sep or not metric or value is None:
            raise ConfigError(f"--fail-{op} {spec!r}: write METRIC=NUMBER or "
                              "VARIANT:METRIC=NUMBER, e.g. --fail-under mrs=0.1")
        out.append(Threshold(spec, variant or None, metric.strip(), op, value))
    return out


def evaluate(thresholds: list[Threshold], metrics: dict[str, dict], first: str) -> list[dict]:
    """One result per threshold: value, passed, and the reason when it did not."""
    results = []
    for t in thresholds:
        variant = t.variant or first
        got = metrics.get(variant)
        value = None if got is None else got.get(t.metric)
        if got is None:
            reason = f"no variant {variant!r} in this run (have: {', '.join(metrics)})"
        elif t.metric not in got:
            reason = (f"metric {t.metric!r} was not measured for {variant} "
                      f"(have: {', '.join(sorted(got))})")
        elif value is None:
            reason = f"{t.metric} is undefined for {variant} (no example had a value)"
        elif t.op == "under" and value < t.value:
            reason = f"{variant} {t.metric} = {value:.4g} is below the minimum {t.value:g}"
        elif t.op == "over" and value > t.value:
            reason = f"{variant} {t.metric} = {value:.4g} is above the maximum {t.value:g}"
        else:
            reason = None
        results.append({"spec": f"--fail-{t.op} {t.spec}", "variant": variant,
                        "metric": t.metric, "value": value, "threshold": t.value,
                        "passed": reason is None, "reason": reason})
    return results
