"""Shared by the campaign suites: a campaign body, posting one, waiting for it."""

from __future__ import annotations

import time

SALE = "Our spring sale: 20% off all running shoes until April 30. Stride makes every run lighter."


def campaign(audience, **extra) -> dict:
    return {"campaign": {"body": SALE, "brand": "Stride"}, "n": 3, "max_chars": 60,
            "deadline_ms": 20_000, "audience": list(audience), **extra}


def post_campaign(client, auth, audience, **extra) -> dict:
    r = client.post("/v1/campaigns", headers=auth, json=campaign(audience, **extra))
    assert r.status_code == 202, r.text
    return r.json()


def wait_done(client, auth, campaign_id: str, *, until=None, cap_s: float = 120.0) -> dict:
    """Poll progress until ``until(progress)`` (default: state done); the cap only stops
    a broken run from hanging the suite."""
    until = until or (lambda p: p["state"] == "done")
    end = time.monotonic() + cap_s
    while True:
        got = client.get(f"/v1/campaigns/{campaign_id}", headers=auth)
        assert got.status_code == 200, got.text
        if until(got.json()):
            return got.json()
        assert time.monotonic() < end, f"campaign did not get there: {got.json()}"
        time.sleep(0.05)


def all_rows(client, auth, campaign_id: str, limit: int = 100) -> list[dict]:
    rows, cursor = [], None
    while True:
        params = {"limit": limit} if cursor is None else {"limit": limit, "cursor": cursor}
        page = client.get(f"/v1/campaigns/{campaign_id}/results", headers=auth, params=params)
        assert page.status_code == 200, page.text
        rows += page.json()["data"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return rows
