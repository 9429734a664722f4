"""Campaigns on the fleet path (PERSONA_REDIS_URL): the gateway puts chunks of the
audience on the arq job queue and ``persona worker`` processes finish them. A worker
SIGKILLed mid-job loses no finished row: another worker completes the job, every row
written exactly once (one exposure each), the rows finished before the kill unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.auth import create_key
from gateway.core.db import Database
from gateway.tables import CampaignRow, Exposure
from tests.campaign_helpers import all_rows, campaign, post_campaign, wait_done
from tests.conftest import wait_ready

ROOT = Path(__file__).resolve().parents[1]
CHUNK_TIMEOUT_S = 6.0  # a dead worker's chunk goes to another after this plus 10 s


@pytest.fixture
def queue_settings(settings, redis_url):
    return settings.model_copy(update={"redis_url": redis_url, "campaign_chunk_size": 3,
                                       "campaign_concurrency": 1,
                                       "campaign_chunk_timeout_s": CHUNK_TIMEOUT_S})


def _worker(settings, tmp_path, name: str, delay_s: float) -> subprocess.Popen:
    env = {**os.environ, "PERSONA_DATA_DIR": str(settings.data_dir),
           "PERSONA_REDIS_URL": settings.redis_url, "PERSONA_MODELS": '["fake/test"]',
           "PERSONA_EMBEDDING_MODEL": "hash", "PERSONA_LOAD_MODELS": "false",
           "PERSONA_CAMPAIGN_CONCURRENCY": "1",
           "PERSONA_CAMPAIGN_CHUNK_TIMEOUT_S": str(CHUNK_TIMEOUT_S),
           "FAKE_DELAY_S": str(delay_s)}
    if settings.database_url:
        env["PERSONA_DATABASE_URL"] = settings.database_url
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "tests.campaign_worker"], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _done_rows(settings) -> dict[int, str]:
    db = Database(settings.db_url)
    try:
        with db.session() as s:
            return {p: r["request_id"] for p, r in s.execute(
                select(CampaignRow.position, CampaignRow.result)
                .where(CampaignRow.status == "done")).all()}
    finally:
        db.close()


def test_a_worker_killed_mid_job_loses_no_finished_row(queue_settings, fake, tmp_path):
    audience = [f"user{i}" for i in range(12)]
    with TestClient(create_app(queue_settings)) as c:
        wait_ready(c)
        auth = {"Authorization": f"Bearer {create_key(c.app.state.services.db, tenant='acme', scope='admin')}"}
        r = c.post("/v1/experiments", headers=auth, json={
            "name": "subj", "task": "subject_lines",
            "variants": [{"name": "rules", "overrides": {"use_model": False}}],
            "allocation": {"rules": 50}})
        assert r.status_code == 201, r.text
        job = post_campaign(c, auth, audience, experiment="subj")
        assert job["runner"] == "queue" and job["state"] == "queued"
        first = _worker(queue_settings, tmp_path, "first", delay_s=0.4)
        try:
            wait_done(c, auth, job["id"], until=lambda p: p["done"] >= 2)
            first.kill()  # SIGKILL: no clean-up, its chunk stays marked in progress
            first.wait()
        finally:
            _stop(first)
        before = _done_rows(queue_settings)
        assert 2 <= len(before) < len(audience)
        second = _worker(queue_settings, tmp_path, "second", delay_s=0.0)
        try:
            wait_done(c, auth, job["id"], cap_s=180)
        finally:
            _stop(second)
        rows = all_rows(c, auth, job["id"])
        with c.app.state.services.db.session() as s:
            assert s.scalar(select(func.count()).select_from(CampaignRow)) == len(audience)
            exposed = s.execute(select(Exposure.user_id, func.count())
                                .group_by(Exposure.user_id)).all()
    assert [r["user_id"] for r in rows] == audience
    assert all(r["status"] == "done" for r in rows)
    assert dict(exposed) == dict.fromkeys(audience, 1)  # every row exactly once
    assert all(rows[i]["request_id"] == rid for i, rid in before.items())


def test_without_redis_the_worker_says_what_to_set(monkeypatch):
    from typer.testing import CliRunner

    from gateway.cli import app as cli

    monkeypatch.delenv("PERSONA_REDIS_URL", raising=False)
    got = CliRunner().invoke(cli, ["worker"])
    assert got.exit_code == 2 and "PERSONA_REDIS_URL" in " ".join(got.output.split())




def test_a_chunk_that_runs_long_is_retried_not_failed(services, admin_key, fake):
    """arq's own timeout would fail the task for good and leave its rows pending: the
    chunk cuts itself off first and asks for a retry, which finishes the rows."""
    import asyncio

    from arq import Retry

    from gateway.schemas.campaigns import CampaignIn
    from gateway.tables import Tenant
    from gateway.usecases.campaigns.jobs import create_campaign
    from gateway.usecases.campaigns.worker import campaign_chunk

    services.settings.campaign_chunk_timeout_s = 1.0
    services.settings.campaign_concurrency = 1
    with services.db.session() as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.name == "acme"))
    job = create_campaign(services=services, tenant_id=tenant_id, runner="queue",
                          spec=CampaignIn.model_validate(campaign(["u1", "u2"])))
    fake.delay_s = 5.0  # every row outlasts the chunk's budget
    with pytest.raises(Retry):
        asyncio.run(campaign_chunk({"services": services}, job.id, 0, 2))
    assert len(_pending(services, job.id)) == 2
    fake.delay_s = 0.0
    services.settings.campaign_chunk_timeout_s = 120.0  # the retry: time enough
    assert asyncio.run(campaign_chunk({"services": services}, job.id, 0, 2)) == 2
    assert _pending(services, job.id) == []


def _pending(services, campaign_id):
    from gateway.usecases.campaigns.rows import pending

    return pending(services, campaign_id)
