"""History and user routes: ingestion, idempotency, export, isolation, deletion, input checks."""

from __future__ import annotations

import uuid

import pytest

from gateway.auth import create_key, get_or_create_tenant
from gateway.tables import Feedback, Generation
from tests.dbrows import rows_with

pytestmark = pytest.mark.both_backends


def item(i, text=None, kind="sent_reply", **extra):
    return {"id": f"msg-{i}", "kind": kind, "text": text or f"reply number {i}", **extra}


def post(client, auth, items, user="u1"):
    return client.post(f"/v1/users/{user}/history", headers=auth, json={"items": items})


def export_all(client, auth, user="u1", limit=100):
    items, cursor = [], None
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        r = client.get(f"/v1/users/{user}/history", headers=auth, params=params)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture
def acme(services, auth) -> int:
    """The tenant id behind ``auth``."""
    return get_or_create_tenant(services.db, "acme")


def error_of(r, status):
    assert r.status_code == status, r.text
    return r.json()["error"]


def test_post_is_durable_retrievable_and_exported(client, auth, services, acme):
    r = post(client, auth, [
        item(1, "Sure, Friday at 3pm works for me.", context="Can we move the meeting to Friday?",
             subject="Re: meeting", timestamp="2026-11-01T10:00:00+02:00"),
        item(2, "The invoice was paid yesterday.", context="Did you pay the invoice?"),
    ])
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 2, "ids": ["msg-1", "msg-2"]}

    got = export_all(client, auth)
    assert [i["id"] for i in got] == ["msg-1", "msg-2"]
    first = got[0]
    assert first["context"] == "Can we move the meeting to Friday?"
    assert first["subject"] == "Re: meeting"
    assert first["timestamp"].startswith("2026-11-01T08:00:00")  # stored in UTC
    assert first["created_at"]

    hits = services.history.retrieve(acme, "u1", "move the meeting to friday", k=1)
    assert [h.id for h in hits] == ["msg-1"]
    assert 0 < hits[0].score <= 1.0001


def test_resending_same_items_does_not_duplicate(client, auth, services, acme):
    batch = [item(1), item(2)]
    assert post(client, auth, batch).status_code == 200
    r = post(client, auth, batch)
    assert r.status_code == 200
    assert r.json() == {"accepted": 2, "ids": ["msg-1", "msg-2"]}
    assert [i["id"] for i in export_all(client, auth)] == ["msg-1", "msg-2"]
    assert services.history.count(acme, "u1") == 2
    assert len(services.history.index_ids(acme, "u1")) == 2


def test_same_id_different_text_is_409_and_writes_nothing(client, auth, services, acme):
    assert post(client, auth, [item(1, "original")]).status_code == 200
    err = error_of(post(client, auth, [item(7, "new one"), item(1, "changed")]), 409)
    assert err["field"] == "items.1.id"
    assert "new id" in err["message"]
    assert [i["text"] for i in export_all(client, auth)] == ["original"]  # msg-7 not written


def test_pagination_walks_every_item_once(client, auth):
    assert post(client, auth, [item(i) for i in range(7)]).status_code == 200
    r = client.get("/v1/users/u1/history", headers=auth, params={"limit": 3})
    page = r.json()
    assert [i["id"] for i in page["items"]] == ["msg-0", "msg-1", "msg-2"]
    assert page["next_cursor"]
    assert [i["id"] for i in export_all(client, auth, limit=3)] == [f"msg-{i}" for i in range(7)]
    last = client.get("/v1/users/u1/history", headers=auth, params={"limit": 7}).json()
    assert last["next_cursor"] is None


@pytest.mark.parametrize("params,field", [({"cursor": "garbage!"}, "cursor"),
                                          # "h1:9223372036854775808", past SQLite's int64
                                          ({"cursor": "aDE6OTIyMzM3MjAzNjg1NDc3NTgwOA"}, "cursor"),
                                          ({"limit": 0}, "limit"), ({"limit": 501}, "limit")])
def test_bad_page_parameters_name_the_field(client, auth, params, field):
    assert error_of(client.get("/v1/users/u1/history", headers=auth, params=params),
                    422)["field"] == field


def test_the_largest_cursor_sqlite_holds_is_an_empty_page(client, auth):
    assert post(client, auth, [item(1)]).status_code == 200
    r = client.get("/v1/users/u1/history", headers=auth,
                   params={"cursor": "aDE6OTIyMzM3MjAzNjg1NDc3NTgwNw"})  # h1:2**63-1
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:00:00-01:00", "0001-01-01T00:30:00+01:00"])
def test_a_timestamp_outside_the_utc_range_names_the_field(client, auth, timestamp):
    err = error_of(post(client, auth, [item(1), item(2, timestamp=timestamp)]), 422)
    assert err["field"] == "items.1.timestamp"
    assert "UTC" in err["message"]
    assert export_all(client, auth) == []  # all or nothing


def test_timestamps_at_the_edges_of_the_range_are_stored(client, auth):
    edges = ["9999-12-31T23:00:00+01:00", "0001-01-01T00:30:00-01:00", "9999-12-31T23:59:59Z"]
    assert post(client, auth, [item(i, timestamp=t) for i, t in enumerate(edges)]).status_code == 200
    assert [i["timestamp"] for i in export_all(client, auth)] == [
        "9999-12-31T22:00:00Z", "0001-01-01T01:30:00Z", "9999-12-31T23:59:59Z"]


def test_tenants_and_users_are_isolated(client, auth, services, acme):
    other = {"Authorization": f"Bearer {create_key(services.db, tenant='globex', scope='admin')}"}
    assert post(client, auth, [item(1, "acme secret about the merger")]).status_code == 200
    assert post(client, auth, [item(2, "a note from another user")], user="u2").status_code == 200

    assert export_all(client, other) == []  # same user id, other tenant
    globex = get_or_create_tenant(services.db, "globex")
    assert services.history.retrieve(globex, "u1", "secret merger", k=5) == []
    assert [h.id for h in services.history.retrieve(acme, "u2", "secret merger", k=5)] == ["msg-2"]
    # the other tenant's delete of "u1" does not touch acme's u1
    assert client.delete("/v1/users/u1", headers=other).status_code == 204
    assert [i["id"] for i in export_all(client, auth)] == ["msg-1"]
    # and writing the same id in the other tenant is a separate item, not a conflict
    assert post(client, other, [item(1, "globex text")]).status_code == 200
    assert [i["text"] for i in export_all(client, auth)] == ["acme secret about the merger"]


def test_client_key_may_write_but_not_export_or_delete(client, client_key):
    h = {"Authorization": f"Bearer {client_key}"}
    assert post(client, h, [item(1)]).status_code == 200
    assert client.put("/v1/users/u1/preferences", headers=h,
                      json={"personalization": False}).status_code == 200
    assert error_of(client.get("/v1/users/u1/history", headers=h), 403)["type"] == "forbidden"
    assert error_of(client.delete("/v1/users/u1", headers=h), 403)["type"] == "forbidden"


def _all_bytes(root):
    for path in root.rglob("*"):
        if path.is_file():
            yield path, path.read_bytes()


def test_delete_user_leaves_no_trace_in_api_or_data_dir(client, auth, services, acme, settings,
                                                        backend):
    marker = f"zq{uuid.uuid4().hex}zq"
    assert post(client, auth, [item(1, f"my secret {marker}", context=f"ctx {marker}"),
                               item(2, "unrelated words")]).status_code == 200
    assert post(client, auth, [item(3, "another user's text")], user="u2").status_code == 200
    assert client.put("/v1/users/u1/preferences", headers=auth,
                      json={"personalization": True, "signature": f"— {marker}"}).status_code == 200
    with services.db.session() as s:
        s.add(Generation(request_id="req-1", tenant_id=acme, user_id="u1", task="smart_reply",
                         input_text=f"incoming {marker}", outputs=[f"out {marker}"]))
        s.add(Feedback(tenant_id=acme, user_id="u1", request_id="req-1", index=0, event="edited",
                       final_text=f"final {marker}"))
    services.history.close()  # flush snapshots so the index files exist on disk too
    assert rows_with(services.db, marker)
    if backend == "sqlite":  # the database file is in the data dir (PostgreSQL's is not)
        assert any(marker.encode() in data for _, data in _all_bytes(settings.data_dir))
    assert list(settings.index_dir.rglob("*.pgx"))

    assert client.delete("/v1/users/u1", headers=auth).status_code == 204
    assert client.delete("/v1/users/u1", headers=auth).status_code == 204  # idempotent

    assert export_all(client, auth) == []
    assert services.history.retrieve(acme, "u1", f"my secret {marker}") == []
    assert client.get("/v1/users/u1/preferences", headers=auth).json()["signature"] is None
    with services.db.session() as s:
        assert s.get(Generation, (acme, "req-1")) is None
        assert s.query(Feedback).count() == 0
    assert rows_with(services.db, marker) == []
    leaks = [str(p) for p, data in _all_bytes(settings.data_dir) if marker.encode() in data]
    assert leaks == []
    # the other user is untouched, and their index file is the only one left
    assert [i["id"] for i in export_all(client, auth, user="u2")] == ["msg-3"]
    services.history.close()
    assert len(list(settings.index_dir.rglob("*.pgx"))) == 1


@pytest.mark.parametrize("items,status,field", [
    ([{"id": "a", "kind": "sent_reply", "text": ""}], 422, "items.0.text"),
    ([{"id": "a", "kind": "sent_reply", "text": "   \n"}], 422, "items.0.text"),
    ([{"id": "a", "kind": "tweet", "text": "hi"}], 422, "items.0.kind"),
    ([{"id": "a", "kind": "note", "text": "hi", "mood": "x"}], 422, "items.0.mood"),
    ([{"id": "bad id!", "kind": "note", "text": "hi"}], 422, "items.0.id"),
    ([{"id": "a", "kind": "note", "text": "ok"}, {"id": "a", "kind": "note", "text": "ok"}],
     422, "items.1.id"),
    ([{"id": "a", "kind": "note", "text": "ok"}, {"id": "b", "kind": "note", "text": "x" * 20_001}],
     422, "items.1.text"),
    ([], 422, "items"),
])
def test_bad_items_are_rejected_naming_the_field_and_nothing_is_written(client, auth, services, acme, items, status, field):
    err = error_of(post(client, auth, items), status)
    assert err["field"] == field
    assert field.split(".")[-1] in err["message"]
    assert services.history.count(acme, "u1") == 0


def test_limits_from_settings_are_413_naming_the_field(client, auth, services, acme, monkeypatch):
    monkeypatch.setattr(services.settings, "max_batch_items", 3)
    monkeypatch.setattr(services.settings, "max_text_chars", 100)
    err = error_of(post(client, auth, [item(i) for i in range(4)]), 413)
    assert err["field"] == "items" and "3" in err["message"]
    err = error_of(post(client, auth, [item(1), item(2, "y" * 101)]), 413)
    assert err["field"] == "items.1.text"
    err = error_of(post(client, auth, [item(1, context="z" * 101)]), 413)
    assert err["field"] == "items.0.context"
    assert services.history.count(acme, "u1") == 0


@pytest.mark.parametrize("user", ["bad user", "-leading-dash", "x" * 129, "semi;colon"])
def test_invalid_user_id_is_422(client, auth, services, acme, user):
    err = error_of(post(client, auth, [item(1)], user=user), 422)
    assert err["field"] == "user_id"


def test_preferences_round_trip(client, auth):
    r = client.get("/v1/users/u1/preferences", headers=auth)
    assert r.json() == {"personalization": True, "locale": "en", "signature": None}
    r = client.put("/v1/users/u1/preferences", headers=auth,
                   json={"personalization": False, "locale": "pt-BR", "signature": "— Ana"})
    assert r.status_code == 200
    assert r.json() == {"personalization": False, "locale": "pt-BR", "signature": "— Ana"}
    assert client.get("/v1/users/u1/preferences", headers=auth).json() == r.json()
    assert error_of(client.put("/v1/users/u1/preferences", headers=auth,
                               json={"locale": "not a locale"}), 422)["field"] == "locale"


def test_retrieve_filters_kinds_and_recent_orders_newest_first(client, auth, services, acme):
    items = [item(i, f"shoes sale subject {i}", kind="subject_opened",
                  timestamp=f"2026-10-0{i + 1}T00:00:00Z") for i in range(5)]
    items.append(item(9, "shoes shoes sale", kind="note"))
    assert post(client, auth, items).status_code == 200
    hits = services.history.retrieve(acme, "u1", "shoes sale", k=3, kinds=["note"])
    assert [h.id for h in hits] == ["msg-9"]
    hits = services.history.retrieve(acme, "u1", "shoes sale", k=10, kinds=["subject_opened"])
    assert sorted(h.id for h in hits) == [f"msg-{i}" for i in range(5)]
    assert [r.id for r in services.history.recent(acme, "u1", kinds=["subject_opened"], limit=2)] \
        == ["msg-4", "msg-3"]
    assert services.history.count(acme, "u1") == 6
