"""The tenant response set: replies many users send, never one user's words for another."""

from __future__ import annotations

import pytest

from gateway.usecases.replies.shared import count_shared, tenant_responses
from tests.smart_reply_helpers import add_replies, body

LUNCH = {"from": "Kim <kim@example.com>", "subject": "Lunch",
         "body": "Want to grab lunch tomorrow?"}
COMMON = "Count me in, I'll bring the snacks!"
RARE = "Only Ana says this about the spreadsheet."


def _send(client, auth, users, text, *, start=0):
    for i, u in enumerate(users):
        add_replies(client, auth, u, [(f"r{start + i}", "Are you coming?", text)])


def _candidates(client, auth, user_id="reader"):
    r = client.post("/v1/smart-replies", json=body(LUNCH, user_id=user_id), headers=auth)
    assert r.status_code == 200, r.text
    rid = r.json()["request_id"]
    exp = client.get(f"/v1/requests/{rid}", headers=auth).json()
    return {c["text"] for c in exp["candidates"]}


@pytest.fixture
def k3(services, monkeypatch):
    monkeypatch.setattr(services.settings, "smart_reply_shared_min_users", 3)
    monkeypatch.setattr(services.settings, "smart_reply_shared_ttl_s", 0)


def test_a_reply_of_k_users_reaches_another_user_and_one_of_fewer_never(client, auth, fake, k3):
    _send(client, auth, ["a1", "a2", "a3"], COMMON)
    _send(client, auth, ["b1", "b2"], RARE, start=10)
    cands = _candidates(client, auth)
    assert COMMON in cands
    assert not any("spreadsheet" in c for c in cands)


def test_one_user_sending_a_reply_many_times_is_one_user(client, auth, fake, k3):
    add_replies(client, auth, "ana", [(f"x{i}", "Are you coming?", RARE) for i in range(6)])
    assert not any("spreadsheet" in c for c in _candidates(client, auth))


def test_another_tenants_replies_never_surface(client, auth, services, fake, k3):
    from gateway.auth import create_key as make_key

    other = {"Authorization": f"Bearer {make_key(services.db, tenant='globex', scope='admin')}"}
    _send(client, other, ["g1", "g2", "g3", "g4"], COMMON)
    assert COMMON not in _candidates(client, auth)
    assert COMMON in _candidates(client, other)


def test_users_who_opted_out_are_not_counted(client, auth, fake, k3):
    _send(client, auth, ["a1", "a2", "a3"], COMMON)
    r = client.put("/v1/users/a3/preferences", json={"personalization": False}, headers=auth)
    assert r.status_code == 200, r.text
    assert COMMON not in _candidates(client, auth)


def test_pii_never_enters_the_set():
    rows = [(f"u{i}", "Call me at +1 415 555 0199 tonight") for i in range(10)]
    rows += [(f"u{i}", "Sounds great, see you there!") for i in range(10)]
    got = count_shared(rows, min_users=3, opted_out=set())
    assert [r.text for r in got] == ["Sounds great, see you there!"]
    assert got[0].users == 10


def test_spellings_of_one_reply_count_together_and_greetings_do_not_matter():
    rows = [("u1", "Sounds good!"), ("u2", "sounds good"), ("u3", "Hi Bob,\nSounds good.\nCheers, Ana")]
    got = count_shared(rows, min_users=3, opted_out=set())
    assert len(got) == 1 and got[0].users == 3


def test_k_zero_turns_the_tenant_set_off(services, monkeypatch):
    monkeypatch.setattr(services.settings, "smart_reply_shared_min_users", 0)
    assert tenant_responses(services, 1) == []


@pytest.mark.parametrize("leave", ["forget", "opt_out"])
def test_a_user_who_leaves_stops_counting_at_once_not_after_the_ttl(client, auth, fake,
                                                                    services, monkeypatch,
                                                                    leave):
    monkeypatch.setattr(services.settings, "smart_reply_shared_min_users", 3)
    monkeypatch.setattr(services.settings, "smart_reply_shared_ttl_s", 300)
    _send(client, auth, ["a1", "a2", "a3"], COMMON)
    assert COMMON in _candidates(client, auth)  # counted and cached for 300 s
    if leave == "forget":
        r = client.delete("/v1/users/a3", headers=auth)
    else:
        r = client.put("/v1/users/a3/preferences", json={"personalization": False},
                       headers=auth)
    assert r.status_code in (200, 204), r.text
    assert COMMON not in _candidates(client, auth)  # two users left: below k
