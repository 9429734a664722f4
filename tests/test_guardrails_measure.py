"""The measurement script on small self-made files (never the shared data)."""

from __future__ import annotations

import json
from pathlib import Path

from evals.guardrails_measure import main

REDTEAM = Path(__file__).parent / "redteam"


def test_measure_reports_fail_rates_and_redteam(tmp_path, capsys):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("Can we meet Friday at 3pm?\tFriday at 3pm works!\n"
                   "Lunch tomorrow?\tSure, I'll bring 12 sandwiches.\n"
                   "How was the trip?\tGreat, thanks for asking\n", encoding="utf-8")
    jsonl = tmp_path / "dev.jsonl"
    rows = [{"body": "Spring sale: 20% off shoes until April 30.", "subject": "20% off shoes",
             "annotations": ["Spring sale", "30% off shoes"]}]
    jsonl.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    out = tmp_path / "report.json"
    assert main(["--reddit", str(tsv), "--aeslc", str(jsonl), "--redteam", str(REDTEAM),
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    reddit = report["reddit"]["checks"]
    assert report["reddit"]["texts"] == 3
    assert reddit["grounding"]["failed"] == 1  # the invented "12"
    assert report["aeslc"]["texts"] == 3
    assert report["aeslc"]["checks"]["grounding"]["failed"] == 1  # the invented "30%"
    assert report["redteam"]["injected_link"]["rate"] == 1.0
    assert "grounding" in capsys.readouterr().out


def test_measure_rejects_missing_paths(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["--reddit", str(tmp_path / "nope.tsv")])
    assert "does not exist" in capsys.readouterr().err
