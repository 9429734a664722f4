"""Experiments over HTTP: responses say what they were served under, variants change
what the pipeline does, rollback and kill switch act on the next request, results
join feedback to exposures, forgetting a user removes their rows."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.tables import ExperimentAssignment, Exposure
from gateway.usecases.experiments.assign import build_policy
from tests.smart_reply_helpers import body

SALE = "Our spring sale: 20% off all running shoes until April 30. Stride makes every run lighter."


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"models": ["fake/test", "fake/other"]})


def _create(client, auth, *, task="smart_replies", overrides=None, percent=100, **fields):
    spec = {"name": "exp1", "task": task,
            "variants": [{"name": "treatment", "overrides": overrides or {}}],
            "allocation": {"treatment": percent}, **fields}
    r = client.post("/v1/experiments", headers=auth, json=spec)
    assert r.status_code == 201, r.text
    return r.json()


def _reply(client, auth, user="u1", **extra):
    r = client.post("/v1/smart-replies", headers=auth, json=body(user_id=user, **extra))
    assert r.status_code == 200, r.text
    return r.json()


def _subject(client, auth, **extra):
    payload = {"campaign": {"body": SALE, "brand": "Stride"}, "n": 3, "max_chars": 60, **extra}
    r = client.post("/v1/subject-lines", headers=auth, json=payload)
    assert r.status_code == 200, r.text
    return r.json()


def test_no_experiment_means_null_fields(client, auth):
    got = _reply(client, auth)
    assert got["experiment"] is None and got["variant"] is None


def test_response_and_exposure_name_the_variant(client, services, auth):
    _create(client, auth, overrides={"samples": 1})
    got = _reply(client, auth, user="u1")
    assert (got["experiment"], got["variant"]) == ("exp1", "treatment")
    with services.db.session() as s:
        row = s.get(Exposure, (1, got["request_id"]))
    assert (row.user_id, row.variant, row.assigned) == ("u1", "treatment", "treatment")
    # the explanation of the request names the variant it was served under
    why = client.get(f"/v1/requests/{got['request_id']}", headers=auth)
    assert why.status_code == 200 and why.json()["variant"] == "exp1/treatment"
    plain = _subject(client, auth)  # no experiment on subject lines: no variant
    assert client.get(f"/v1/requests/{plain['request_id']}", headers=auth).json()["variant"] \
        is None


def test_an_untriggered_smart_reply_is_no_exposure(client, services, auth):
    _create(client, auth)
    message = {"from": "no-reply@shop.example", "subject": "Your order",
               "body": "Your order has shipped."}
    got = _reply(client, auth, message=message)
    assert got["triggered"] is False and got["variant"] == "treatment"
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Exposure)) == 0


def test_samples_override_is_honoured(client, auth, fake):
    _reply(client, auth)
    default_calls = len(fake.calls)
    assert default_calls == 3  # smart_reply_samples
    _create(client, auth, overrides={"samples": 1})
    fake.reset()
    _reply(client, auth)
    assert len(fake.calls) == 1


def test_model_chain_override_is_honoured(client, auth):
    assert _reply(client, auth)["model"] == "fake/test"
    _create(client, auth, overrides={"models": ["fake/other"]})
    assert _reply(client, auth)["model"] == "fake/other"


def test_personalize_off_and_rules_only_overrides_are_honoured(client, auth, fake):
    _create(client, auth, overrides={"personalize": False, "use_model": False})
    got = _reply(client, auth)
    assert got["fallback_reason"] == "personalization_off" and not got["personalized"]
    assert {s["source"] for s in got["suggestions"]} == {"rules"} and fake.calls == []


def test_deadline_override_is_honoured(client, auth, fake):
    fake.delay_s = 2.0
    _create(client, auth, task="subject_lines", overrides={"deadline_ms": 400})
    got = _subject(client, auth, user_id="u1")  # no deadline_ms: the variant's applies
    assert got["variant"] == "treatment" and got["fallback_reason"] == "timeout"
    assert got["subject_lines"] and got["latency_ms"] < 2000


def test_subject_weights_override_builds_the_ranker_weights():
    policy = build_policy("subject_lines", {"subject_weights": {"brevity": 3.0}})
    assert policy.subject_weights.brevity == 3.0 and policy.subject_weights.relevance == 1.0


def test_user_without_id_gets_control_and_is_not_counted(client, services, auth):
    _create(client, auth, task="subject_lines")
    got = _subject(client, auth)
    assert (got["experiment"], got["variant"]) == ("exp1", "control")
    results = client.get("/v1/experiments/exp1/results", headers=auth).json()
    assert results["exposures"] == {"control": 0, "treatment": 0}


def test_rollback_and_kill_switch_take_effect_on_the_next_request(client, auth, fake):
    _create(client, auth, overrides={"samples": 1})
    assert _reply(client, auth)["variant"] == "treatment"
    assert client.post("/v1/experiments/exp1/rollback", headers=auth,
                       json={"variant": "treatment"}).status_code == 200
    fake.reset()
    got = _reply(client, auth)
    assert got["variant"] == "control" and len(fake.calls) == 3  # control's policy again

    r = client.put("/v1/kill-switches/smart_replies", headers=auth, json={"rules_only": True})
    assert r.status_code == 200 and r.json() == {"task": "smart_replies", "rules_only": True}
    fake.reset()
    got = _reply(client, auth)
    assert fake.calls == [] and {s["source"] for s in got["suggestions"]} == {"rules"}
    assert got["experiment"] is None and got["model"] is None
    _subject(client, auth, deadline_ms=30_000)
    assert len(fake.calls) == 1  # the other task still calls the model
    client.put("/v1/kill-switches/smart_replies", headers=auth, json={"rules_only": False})
    assert _reply(client, auth)["model"] == "fake/test"


def test_results_join_feedback_to_exposures(client, auth):
    _create(client, auth, percent=50, min_detectable_lift=0.5)
    served = {}
    for i in range(12):
        got = _reply(client, auth, user=f"user{i}")
        served[got["request_id"]] = got["variant"]
    selected = [rid for rid in served][:4]
    for rid in selected:
        assert client.post("/v1/feedback", headers=auth, json={
            "request_id": rid, "index": 0, "event": "selected"}).status_code == 202
    client.post("/v1/feedback", headers=auth, json={
        "request_id": selected[0], "index": 0, "event": "edited", "final_text": "Friday ok"})
    r = client.get("/v1/experiments/exp1/results", headers=auth)
    assert r.status_code == 200, r.text
    res = r.json()
    assert sum(res["exposures"].values()) == 12
    sel = res["metrics"][0]
    assert sel["name"] == "selection_rate" and sel["primary"]
    assert sum(x["successes"] for x in sel["rates"].values()) == 4
    for v, x in sel["rates"].items():
        assert x["trials"] == res["exposures"][v]
        assert x["ci_low"] <= x["rate"] <= x["ci_high"]
    edit = res["metrics"][1]
    assert sum(x["trials"] for x in edit["rates"].values()) == 4
    assert sum(x["successes"] for x in edit["rates"].values()) == 1
    assert res["stopping"]["decision"] == "keep_waiting"
    assert "Keep waiting" in res["stopping"]["message"] or "keep waiting" in res["stopping"]["message"]
    html = client.get("/v1/experiments/exp1/report", headers=auth)
    assert html.status_code == 200 and "<svg" in html.text and "selection_rate" in html.text


def test_forgetting_a_user_removes_assignments_and_exposures(client, services, auth):
    _create(client, auth)
    _reply(client, auth, user="gone")
    _reply(client, auth, user="stays")
    assert client.delete("/v1/users/gone", headers=auth).status_code == 204
    with services.db.session() as s:
        for table in (ExperimentAssignment, Exposure):
            users = s.scalars(select(table.user_id)).all()
            assert users == ["stays"]
    res = client.get("/v1/experiments/exp1/results", headers=auth).json()
    assert res["exposures"]["treatment"] == 1


def test_bad_specs_are_refused_with_the_fix(client, auth, client_key):
    def post(**spec):
        full = {"name": "x", "task": "smart_replies",
                "variants": [{"name": "t", "overrides": {}}], **spec}
        return client.post("/v1/experiments", headers=auth, json=full)

    r = post(variants=[{"name": "t", "overrides": {"models": ["openai/gpt-4o"]}}])
    assert r.status_code == 422 and "PERSONA_MODELS" in r.json()["error"]["message"]
    r = post(task="subject_lines", variants=[{"name": "t", "overrides": {"samples": 2}}])
    assert r.status_code == 422 and r.json()["error"]["field"] == "variants.t.overrides.samples"
    r = post(variants=[{"name": "t", "overrides": {"use_model": False, "fill_with_rules": False}}])
    assert r.status_code == 422
    r = post(allocation={"t": 70, "control": 30})
    assert r.status_code == 422 and r.json()["error"]["field"] == "allocation.control"
    assert post().status_code == 201
    assert post().status_code == 409  # name taken
    r = post(name="y")
    assert r.status_code == 409 and "already running" in r.json()["error"]["message"]
    assert client.post("/v1/experiments/x/stop", headers=auth).json()["status"] == "stopped"
    assert post(name="y").status_code == 201
    assert client.post("/v1/experiments/x/start", headers=auth).status_code == 409
    r = client.post("/v1/experiments/y/ramp", headers=auth, json={"variant": "control",
                                                                 "percent": 5})
    assert r.status_code == 422
    assert client.get("/v1/experiments/nope", headers=auth).status_code == 404
    limited = {"Authorization": f"Bearer {client_key}"}
    assert client.get("/v1/experiments", headers=limited).status_code == 403
    listed = client.get("/v1/experiments", headers=auth).json()["data"]
    assert [(e["name"], e["status"]) for e in listed] == [("x", "stopped"), ("y", "running")]
    with client.app.state.services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Exposure)) == 0
