"""docs/grafana/persona-gateway.json queries only metrics the gateway exports: a
renamed metric must fail here, not as an empty panel in production."""

from __future__ import annotations

import json
import re
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[1] / "docs" / "grafana" / "persona-gateway.json"
# Metric names in a PromQL expression (every gateway metric starts with persona_).
_NAME = re.compile(r"\b(persona_[a-z_]+)\b")


def _queried(dash: dict) -> set[str]:
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [v["query"] for v in dash["templating"]["list"] if v["type"] == "query"]
    return {m for e in exprs for m in _NAME.findall(e)}


def _exported(services) -> set[str]:
    names = set()
    for family in services.metrics.registry.collect():
        names.add(family.name)
        for sample in family.samples:
            names.add(sample.name)
        if family.type == "histogram":
            names |= {family.name + s for s in ("_bucket", "_count", "_sum")}
        if family.type == "counter":
            names.add(family.name + "_total")
    return names


def test_every_queried_metric_is_exported(services):
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queried = _queried(dash)
    assert queried, "the dashboard queries no persona_* metric"
    missing = sorted(queried - _exported(services))
    assert missing == [], f"dashboard queries metrics the gateway does not export: {missing}"


def test_dashboard_covers_the_operating_questions(services):
    queried = _queried(json.loads(DASHBOARD.read_text(encoding="utf-8")))
    for needed in ("persona_stage_seconds_bucket", "persona_fallbacks_total",
                   "persona_guardrail_verdicts_total", "persona_drift",
                   "persona_llm_calls_total"):
        assert needed in queried, needed


def test_a_metric_the_gateway_lacks_is_reported(services):
    dash = {"panels": [{"targets": [{"expr": "rate(persona_stage_seconds_bucket[5m]) + "
                                             "persona_no_such_metric"}]}],
            "templating": {"list": []}}
    assert _queried(dash) - _exported(services) == {"persona_no_such_metric"}
