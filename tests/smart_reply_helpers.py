"""Shared helpers for the smart-reply tests: request bodies and user histories."""

from __future__ import annotations

MEETING = {"from": "Bob Smith <bob@example.com>", "subject": "Thursday",
           "body": "Can we move our Thursday meeting to Friday at 3pm?"}

# A terse, casual user who signs "Cheers, Sam".
SAM = [
    ("s1", "Lunch tomorrow at noon?", "yep, works. Cheers, Sam"),
    ("s2", "Can we push the call to 4pm?", "sure thing. Cheers, Sam"),
    ("s3", "Are you joining the offsite next week?", "nope, busy. Cheers, Sam"),
    ("s4", "Can we move our Tuesday meeting to Wednesday at 2pm?", "wednesday works. Cheers, Sam"),
]
# A formal user who greets and signs "Best regards, Jane Doe".
JANE = [
    ("j1", "Can we move our Monday meeting to Tuesday at 10am?",
     ("Dear Alice,\nThank you for your message. Tuesday at 10am would suit me well; I look "
     "forward to our meeting.\nBest regards,\nJane Doe")),
    ("j2", "Can we push the call to 4pm?",
     ("Dear Tom,\nThank you for letting me know. I would be glad to speak at 4pm; I shall call you "
     "then.\nBest regards,\nJane Doe")),
    ("j3", "Are you joining the offsite next week?",
     ("Dear Alice,\nThank you for the invitation. Regrettably, I will not be able to attend the "
     "offsite.\nBest regards,\nJane Doe")),
]


def body(message=None, **extra) -> dict:
    """A request; a generous deadline so a cold start never turns a test into a timeout."""
    out = {"user_id": "u1", "message": dict(message or MEETING), "deadline_ms": 20_000}
    out.update(extra)
    return out


def add_replies(client, auth, user_id: str, rows) -> None:
    items = [{"id": i, "kind": "sent_reply", "text": text, "context": ctx}
             for i, ctx, text in rows]
    r = client.post(f"/v1/users/{user_id}/history", json={"items": items}, headers=auth)
    assert r.status_code == 200, r.text
