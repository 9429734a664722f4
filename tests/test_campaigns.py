"""Campaigns in the gateway's process: every recipient gets subject lines (bad ones
are reported on their row), results page by cursor, an experiment splits the audience
by its persisted assignment, forget removes a user's rows, tenants are isolated, and a
restart resumes a job from its unfinished rows without touching the finished ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.auth import create_key
from gateway.core.db import Database
from gateway.tables import CampaignRow, ExperimentAssignment, Exposure
from tests.campaign_helpers import all_rows, post_campaign, wait_done
from tests.conftest import wait_ready

pytestmark = pytest.mark.both_backends


def test_every_recipient_gets_subject_lines_and_bad_ones_fail_their_row(client, auth):
    job = post_campaign(client, auth, ["u1", "stranger", "not valid!", "u1"])
    assert job["id"].startswith("cmp_") and job["total"] == 4 and job["runner"] == "local"
    got = wait_done(client, auth, job["id"])
    assert (got["done"], got["failed"], got["pending"]) == (2, 2, 0)
    rows = all_rows(client, auth, job["id"])
    assert [r["row"] for r in rows] == [0, 1, 2, 3]
    for r in rows[:2]:  # an unknown user is not bad: plain subject lines
        assert r["status"] == "done" and len(r["subject_lines"]) == 3 and r["request_id"]
        assert all(len(s["text"]) <= 60 for s in r["subject_lines"])
    assert rows[1]["personalized"] is False
    assert rows[2]["status"] == "failed" and "invalid user id" in rows[2]["error"]
    assert rows[3]["status"] == "failed" and "repeats row 0" in rows[3]["error"]
    # Feedback refers to a row's generation like to any subject-line response.
    fb = client.post("/v1/feedback", headers=auth, json={
        "request_id": rows[0]["request_id"], "index": 0, "event": "opened"})
    assert fb.status_code == 202 and fb.json()["accepted"] is True, fb.text


def test_stored_rows_hold_the_subject_lines_sealed(client, services, auth):
    job = post_campaign(client, auth, ["u1"])
    wait_done(client, auth, job["id"])
    served = [s["text"] for s in all_rows(client, auth, job["id"])[0]["subject_lines"]]
    with services.db.session() as s:
        stored = json.dumps(s.scalars(select(CampaignRow.result)).one())
    assert served and not any(text in stored for text in served)  # sealed at rest
    assert client.delete("/v1/users/u1", headers=auth).status_code == 204


def test_results_page_by_cursor_with_every_row_once(client, auth):
    job = post_campaign(client, auth, [f"user{i}" for i in range(7)])
    wait_done(client, auth, job["id"])
    first = client.get(f"/v1/campaigns/{job['id']}/results", headers=auth,
                       params={"limit": 3}).json()
    assert [r["row"] for r in first["data"]] == [0, 1, 2] and first["next_cursor"] == 2
    rows = all_rows(client, auth, job["id"], limit=3)
    assert [r["user_id"] for r in rows] == [f"user{i}" for i in range(7)]


def test_an_experiment_splits_the_audience_by_persisted_assignment(client, services, auth):
    r = client.post("/v1/experiments", headers=auth, json={
        "name": "subj", "task": "subject_lines",
        "variants": [{"name": "rules", "overrides": {"use_model": False}}],
        "allocation": {"rules": 50}})
    assert r.status_code == 201, r.text
    # One user already has a variant from an interactive request: the campaign keeps it.
    first = client.post("/v1/subject-lines", headers=auth, json={
        "user_id": "u0", "campaign": {"body": "Spring sale on shoes."}, "deadline_ms": 20_000})
    before = first.json()["variant"]
    audience = [f"u{i}" for i in range(12)]
    job = post_campaign(client, auth, audience, experiment="subj")
    assert job["experiment"] == "subj"
    wait_done(client, auth, job["id"])
    rows = all_rows(client, auth, job["id"])
    with services.db.session() as s:
        assigned = dict(s.execute(select(ExperimentAssignment.user_id,
                                         ExperimentAssignment.variant)).all())
        exposures = s.execute(select(Exposure.request_id, Exposure.user_id, Exposure.variant)
                              .where(Exposure.request_id.in_([r["request_id"] for r in rows]))
                              ).all()
    assert assigned["u0"] == before == rows[0]["variant"]
    assert {r["variant"] for r in rows} == {"control", "rules"}
    assert all(r["variant"] == assigned[r["user_id"]] for r in rows)
    assert sorted(u for _, u, _ in exposures) == sorted(audience)  # one exposure per row
    assert {rid: v for rid, _, v in exposures} == {r["request_id"]: r["variant"] for r in rows}
    for r in rows:
        if r["variant"] == "rules":
            assert all(s["source"] == "rules" for s in r["subject_lines"])


def test_an_unknown_or_stopped_experiment_is_refused(client, auth):
    r = client.post("/v1/campaigns", headers=auth,
                    json={"campaign": {"body": "Sale."}, "audience": ["u1"], "experiment": "nope"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "experiment"


def test_forgetting_a_user_removes_their_rows_and_keeps_a_count(client, services, auth):
    job = post_campaign(client, auth, ["gone", "stays"])
    wait_done(client, auth, job["id"])
    assert client.delete("/v1/users/gone", headers=auth).status_code == 204
    with services.db.session() as s:
        assert s.scalars(select(CampaignRow.user_id)).all() == ["stays"]
    got = client.get(f"/v1/campaigns/{job['id']}", headers=auth).json()
    assert (got["total"], got["done"], got["forgotten"], got["state"]) == (2, 1, 1, "done")
    assert [r["user_id"] for r in all_rows(client, auth, job["id"])] == ["stays"]


def test_another_tenant_cannot_see_a_campaign(client, services, auth):
    job = post_campaign(client, auth, ["u1"])
    other = {"Authorization": f"Bearer {create_key(services.db, tenant='other', scope='admin')}"}
    assert client.get(f"/v1/campaigns/{job['id']}", headers=other).status_code == 404
    assert client.get(f"/v1/campaigns/{job['id']}/results", headers=other).status_code == 404
    assert client.get(f"/v1/campaigns/{job['id']}", headers=auth).status_code == 200


def test_a_restart_resumes_from_the_first_unfinished_row(settings, fake):
    fake.delay_s = 0.2  # slow enough that the restart lands mid-job
    audience = [f"user{i}" for i in range(8)]
    with TestClient(create_app(settings.model_copy(update={"campaign_concurrency": 1}))) as c:
        wait_ready(c)
        auth = {"Authorization": f"Bearer {create_key(c.app.state.services.db, tenant='acme')}"}
        job = post_campaign(c, auth, audience)
        wait_done(c, auth, job["id"], until=lambda p: p["done"] >= 2)
    # The app stopped with rows pending (its task was cancelled); what finished stays.
    db = Database(settings.db_url)
    with db.session() as s:
        before = {r.position: (r.result["request_id"], r.finished_at) for r in s.scalars(
            select(CampaignRow).where(CampaignRow.status == "done"))}
    db.close()
    assert 2 <= len(before) < len(audience)
    with TestClient(create_app(settings)) as c:
        wait_ready(c)
        wait_done(c, auth, job["id"])
        rows = all_rows(c, auth, job["id"])
        services = c.app.state.services
        with services.db.session() as s:
            assert s.scalar(select(func.count()).select_from(CampaignRow)) == len(audience)
    assert [r["user_id"] for r in rows] == audience
    assert all(r["status"] == "done" for r in rows)
    for i, (request_id, finished_at) in before.items():  # written once: never redone
        assert rows[i]["request_id"] == request_id
        assert datetime.fromisoformat(rows[i]["finished_at"]) == (
            finished_at if finished_at.tzinfo else finished_at.replace(tzinfo=UTC))


def test_the_cli_shows_progress_and_every_row(client, settings, auth, monkeypatch):
    from typer.testing import CliRunner

    from gateway.cli import app as cli

    job = post_campaign(client, auth, ["u1", "bad id"])
    wait_done(client, auth, job["id"])
    monkeypatch.setenv("PERSONA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PERSONA_EMBEDDING_MODEL", "hash")
    if settings.database_url:
        monkeypatch.setenv("PERSONA_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("PERSONA_MASTER_KEYS", settings.master_keys.get_secret_value())
    status = CliRunner().invoke(cli, ["campaigns", "status", job["id"], "--tenant", "acme"])
    assert status.exit_code == 0, status.output
    got = json.loads(status.output)
    assert (got["done"], got["failed"], got["state"]) == (1, 1, "done")
    rows = CliRunner().invoke(cli, ["campaigns", "results", job["id"], "--tenant", "acme"])
    assert rows.exit_code == 0, rows.output
    assert [json.loads(line)["status"] for line in rows.output.splitlines()] == ["done", "failed"]
    other = CliRunner().invoke(cli, ["campaigns", "status", job["id"], "--tenant", "nobody"])
    assert other.exit_code == 2 and "unknown tenant" in other.output
