"""Replicas starting together on an empty database both create tenant "default": the
one whose insert loses the race takes the winner's tenant instead of crashing."""

from __future__ import annotations

import pytest
from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from gateway.auth import create_key, get_or_create_tenant
from gateway.core.db import Database
from gateway.tables import ApiKey, Tenant


@pytest.mark.both_backends
def test_a_tenant_made_by_another_process_meanwhile_is_taken_not_an_error(settings):
    db = Database(settings.database_url or f"sqlite:///{settings.data_dir / 'race.sqlite3'}")
    db.create_all()
    raced: list[int] = []

    def the_other_replica(session, flush_context, instances):
        # Between our read (no "default" yet) and our insert, another process commits it.
        if raced or not any(isinstance(o, Tenant) for o in session.new):
            return
        with db.engine.begin() as conn:
            raced.append(conn.execute(insert(Tenant).values(name="default")
                                      .returning(Tenant.id)).scalar_one())

    event.listen(Session, "before_flush", the_other_replica)
    try:
        tenant_id = get_or_create_tenant(db, "default")
        key = create_key(db, tenant="default", scope="admin")
    finally:
        event.remove(Session, "before_flush", the_other_replica)
    assert raced and tenant_id == raced[0]
    with db.session() as s:
        assert s.query(Tenant).filter_by(name="default").count() == 1
        assert s.query(ApiKey).filter_by(prefix=key[:10]).one().tenant_id == raced[0]
    db.close()


def test_replicas_starting_together_make_one_first_admin_key(postgres):
    """Each replica's start asks for the first admin key; both pass the "no key yet"
    check before either inserts. One key is made and printed, the other replica gets
    None (it prints nothing)."""
    import threading

    from gateway.auth import create_first_admin_key

    with postgres.database() as url:
        db = Database(url)
        db.create_all()
        both_checked = threading.Barrier(2)

        def hold_the_insert(session, flush_context, instances):
            if any(isinstance(o, ApiKey) for o in session.new):
                try:  # without the row lock both replicas get here before either commits
                    both_checked.wait(timeout=1.5)
                except threading.BrokenBarrierError:
                    pass

        event.listen(Session, "before_flush", hold_the_insert)
        got: list[str | None] = []
        try:
            replicas = [threading.Thread(target=lambda: got.append(create_first_admin_key(db)))
                        for _ in range(2)]
            for t in replicas:
                t.start()
            for t in replicas:
                t.join(timeout=30)
        finally:
            event.remove(Session, "before_flush", hold_the_insert)
        assert len(got) == 2 and sum(k is not None for k in got) == 1, got
        key = next(k for k in got if k)
        with db.session() as s:
            assert [k.prefix for k in s.query(ApiKey).all()] == [key[:10]]
        assert create_first_admin_key(db) is None  # and a later start makes none
        db.close()
