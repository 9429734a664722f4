"""Workloads the smart-reply benchmarks share: incoming emails and the user's history.

Kept in one place so that the benchmarks measure the same requests; each benchmark
keeps the order and length it was first measured with (its README rows compare
runs over time).
"""

from __future__ import annotations

# (sender, subject, body): everyday work email, one of each reply intent.
EMAILS = [
    ("Bob <bob@example.com>", "Thursday", "Can we move our Thursday meeting to Friday at 3pm?"),
    ("Ana <ana@example.com>", "Q3 report", "Could you send me the Q3 report by Monday?"),
    ("Lee <lee@example.com>", "Launch", "Thanks so much for your help with the launch yesterday!"),
    ("Kim <kim@example.com>", "Lunch", "Want to grab lunch tomorrow? The new ramen place opened."),
    ("Raj <raj@example.com>", "Offsite", "Are you joining the team offsite next week in Porto?"),
    ("Tom <tom@example.com>", "Slides", "What do you think about the new slide deck for the board?"),
]
FYI = ("Eve <eve@example.com>", "Server", "FYI the staging server will be down tonight for upgrades.")
NEWS = ("Mia <mia@example.com>", "News", "I got the job! I start at the new place in March.")

# (id, the message answered, the user's reply): Sam's past replies, signed "Cheers, Sam".
HISTORY = [
    ("h1", "Lunch tomorrow at noon?", "Sounds good, see you at noon. Cheers, Sam"),
    ("h2", "Can we push the call to 4pm?", "Sure, 4pm works. Cheers, Sam"),
    ("h3", "Are you joining the offsite next week?", "Sadly not, I'm on holiday. Cheers, Sam"),
    ("h4", "Could you review my doc today?", "Will do this afternoon. Cheers, Sam"),
    ("h5", "Thanks for the help yesterday!", "Any time, glad it worked out. Cheers, Sam"),
]
