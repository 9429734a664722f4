"""``persona worker`` with the scripted fake model, as a subprocess of the queue tests.

The fake answers after ``FAKE_DELAY_S`` seconds, so a test can kill the worker while
a chunk is in flight. Settings come from the environment like any worker's.
"""

from __future__ import annotations

import os

from gateway.core.offline import offline_env

if __name__ == "__main__":
    offline_env()
    from gateway.cli import app
    from tests.fakes import fake_installed

    with fake_installed() as fake:
        fake.delay_s = float(os.environ.get("FAKE_DELAY_S", "0"))
        app(["worker"], standalone_mode=False)
