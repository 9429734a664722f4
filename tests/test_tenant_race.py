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
