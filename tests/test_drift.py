"""Drift monitoring: a synthetic shift (another language, another topic, a failing
model) raises the matching gauge past its threshold within one window; a stationary
stream does not. Seeded and on the hashing embedder, so the numbers are the same on
every run."""

from __future__ import annotations

import logging
import random

import pytest

from gateway.core.settings import Settings

WINDOW = 20
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
TAGE = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag"]


def _english(rng):
    return rng.choice([
        f"Can we move our {rng.choice(DAYS)} meeting to {rng.choice(DAYS)} at {rng.randint(1, 5)}pm?",
        f"Are you free on {rng.choice(DAYS)} for a quick call about the project plan?",
        f"Could you send me the notes from the {rng.choice(DAYS)} meeting before lunch?",
    ])


def _german(rng):
    return rng.choice([
        f"Können wir unser Treffen am {rng.choice(TAGE)} auf {rng.choice(TAGE)} verschieben?",
        f"Hast du am {rng.choice(TAGE)} Zeit für ein kurzes Gespräch über den Projektplan?",
        f"Schickst du mir bitte die Notizen vom Treffen am {rng.choice(TAGE)} vor dem Mittag?",
    ])


def _invoice(rng):
    return rng.choice([
        f"Invoice {rng.randint(1000, 9999)} is overdue; please confirm payment by wire transfer.",
        f"Your receipt for order {rng.randint(1000, 9999)}: total charged to the card on file.",
        f"Reminder: the balance of account {rng.randint(1000, 9999)} must be settled this quarter.",
    ])


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", models=["fake/test"], embedding_model="hash",
                    load_models=False, rate_limit_per_minute=0, llm_timeout_s=5.0,
                    llm_retries=0, drift_window=WINDOW,
                    # The hashing embedder spreads short template mails widely: two windows
                    # of 20 from one stream differ by up to ~0.55, a shift by 0.75 or more.
                    drift_input_threshold=0.65,
                    # The seeded streams repeat messages; the smart-reply cache would serve
                    # the repeats (a failing model's included) from before the shift.
                    reply_cache_ttl_s=0)


def _send(client, auth, make, count, rng):
    for _ in range(count):
        payload = {"user_id": "u1", "deadline_ms": 20_000,
                   "message": {"from": "Bob <bob@example.com>", "subject": "",
                               "body": make(rng)}}
        r = client.post("/v1/smart-replies", json=payload, headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["triggered"], payload


def _signals(client, auth) -> dict:
    data = client.get("/v1/monitoring", headers=auth).json()
    task = next(t for t in data["tasks"] if t["task"] == "smart_reply")
    assert task["ready"]
    return {s["signal"]: s for s in task["signals"]}


def _gauge(client, signal: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("persona_drift{") and f'signal="{signal}"' in line \
                and 'task="smart_reply"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no persona_drift gauge for {signal}")


def test_stationary_stream_raises_no_alarm(client, auth, fake, caplog):
    rng = random.Random(1)
    with caplog.at_level(logging.WARNING, logger="gateway.drift"):
        _send(client, auth, _english, 3 * WINDOW, rng)
    signals = _signals(client, auth)
    assert not [s for s in signals.values() if s["alarm"]], signals
    assert signals["input_embedding"]["value"] < signals["input_embedding"]["threshold"]
    assert "drift alarm" not in caplog.text


@pytest.mark.parametrize("shifted", [_german, _invoice], ids=["language", "topic"])
def test_input_shift_raises_input_drift_within_one_window(client, auth, fake, caplog,
                                                          shifted):
    rng = random.Random(2)
    _send(client, auth, _english, 2 * WINDOW, rng)
    assert not _signals(client, auth)["input_embedding"]["alarm"]
    with caplog.at_level(logging.WARNING, logger="gateway.drift"):
        _send(client, auth, shifted, WINDOW, rng)
    signal = _signals(client, auth)["input_embedding"]
    assert signal["alarm"] and signal["value"] > signal["threshold"]
    assert _gauge(client, "input_embedding") == signal["value"]
    assert "drift alarm" in caplog.text and "signal=input_embedding" in caplog.text
    assert 'persona_drift_alarm{signal="input_embedding",task="smart_reply",tenant="acme"} 1.0' \
        in client.get("/metrics").text


def test_failing_model_raises_output_drift(client, auth, fake):
    rng = random.Random(3)
    _send(client, auth, _english, 2 * WINDOW, rng)
    before = _signals(client, auth)
    assert not before["llm_share"]["alarm"]
    fake.error = RuntimeError("connection refused")
    _send(client, auth, _english, WINDOW, rng)
    after = _signals(client, auth)
    assert after["llm_share"]["alarm"] and after["fallback:llm_error"]["alarm"]
    assert after["fallback:llm_error"]["value"] == 1.0
    assert not after["input_embedding"]["alarm"]  # the messages did not change
    assert _gauge(client, "fallback:llm_error") == 1.0


def test_selection_rate_follows_feedback(client, auth, fake):
    rng = random.Random(4)
    ids = []
    for _ in range(2 * WINDOW):
        payload = {"user_id": "u1", "deadline_ms": 20_000,
                   "message": {"from": "Bob <bob@example.com>", "body": _english(rng)}}
        ids.append(client.post("/v1/smart-replies", json=payload, headers=auth)
                   .json()["request_id"])
    for rid in ids[:WINDOW]:  # users picked a suggestion of every reference request
        client.post("/v1/feedback", json={"request_id": rid, "index": 0, "event": "selected"},
                    headers=auth)
    signal = _signals(client, auth)["selection_rate"]
    assert signal["value"] == 1.0 and signal["alarm"]


def test_monitoring_is_tenant_scoped(client, auth, fake, services):
    from gateway.auth import create_key

    _send(client, auth, _english, 2, random.Random(5))
    other = {"Authorization": f"Bearer {create_key(services.db, tenant='other', scope='admin')}"}
    assert client.get("/v1/monitoring", headers=other).json() == {"tenant": "other", "tasks": []}
    mine = client.get("/v1/monitoring", headers=auth).json()
    assert mine["tasks"][0]["observed"] == 2 and not mine["tasks"][0]["ready"]
