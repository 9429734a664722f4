"""Starting an experiment is exclusive per tenant and task on both engines: two creates
(or starts) racing past the application's check cannot both leave a running experiment,
because the database's partial unique index refuses the second."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from gateway.core.errors import Conflict
from gateway.schemas.experiments import ExperimentIn
from gateway.tables import Experiment, Tenant
from gateway.usecases.experiments import manage

pytestmark = pytest.mark.both_backends


def _spec(name: str, start: bool = True) -> ExperimentIn:
    return ExperimentIn(name=name, task="subject_lines", start=start,
                        variants=[{"name": "treatment", "overrides": {}}],
                        allocation={"treatment": 50})


def _tenant(services, admin_key) -> int:
    with services.db.session() as s:
        return s.scalar(select(Tenant.id).where(Tenant.name == "acme"))


def _race(monkeypatch, calls: int):
    """Every caller passes the application's check before any of them writes."""
    barrier = threading.Barrier(calls, timeout=20)
    original = manage._check_no_other_running
    seen = []

    def check(*args):
        original(*args)
        if len(seen) < calls:
            seen.append(1)
            barrier.wait()

    monkeypatch.setattr(manage, "_check_no_other_running", check)


def _in_threads(*calls):
    outcomes = [None] * len(calls)

    def run(i, fn):
        try:
            outcomes[i] = fn()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test reads
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


def _running(services, tenant_id) -> list[str]:
    with services.db.session() as s:
        return list(s.scalars(select(Experiment.name).where(
            Experiment.tenant_id == tenant_id, Experiment.status == "running")))


def test_two_racing_creates_leave_one_running_experiment(services, admin_key, monkeypatch):
    tenant_id = _tenant(services, admin_key)
    _race(monkeypatch, 2)
    outcomes = _in_threads(
        *(lambda n=n: manage.create_experiment(services=services, tenant_id=tenant_id,
                                               spec=_spec(n)) for n in ("first", "second")))
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(conflicts) == 1, outcomes
    assert "already running" in conflicts[0].message
    assert len(_running(services, tenant_id)) == 1


def test_two_racing_starts_leave_one_running_experiment(services, admin_key, monkeypatch):
    tenant_id = _tenant(services, admin_key)
    for n in ("first", "second"):
        manage.create_experiment(services=services, tenant_id=tenant_id, spec=_spec(n, False))
    _race(monkeypatch, 2)
    outcomes = _in_threads(
        *(lambda n=n: manage.set_status(services=services, tenant_id=tenant_id, name=n,
                                        running=True) for n in ("first", "second")))
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(conflicts) == 1, outcomes
    assert "running" in conflicts[0].message
    assert len(_running(services, tenant_id)) == 1


def test_a_stopped_experiment_frees_the_task(services, admin_key):
    tenant_id = _tenant(services, admin_key)
    manage.create_experiment(services=services, tenant_id=tenant_id, spec=_spec("first"))
    manage.set_status(services=services, tenant_id=tenant_id, name="first", running=False)
    manage.create_experiment(services=services, tenant_id=tenant_id, spec=_spec("second"))
    assert _running(services, tenant_id) == ["second"]
