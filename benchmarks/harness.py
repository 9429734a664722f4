"""Shared set-up for the latency benchmarks: the full ASGI app in a scratch data dir."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(q / 100 * len(v)) - 1))]


@contextmanager
def bench_client(kind: str, **overrides) -> Iterator[tuple[object, dict, object]]:
    """(TestClient, auth headers, settings) for ``kind`` "fake" (instant scripted model,
    hashing embedder: the gateway's own cost) or "embedded" (MiniLM + SmolLM2);
    ``overrides``: other settings."""
    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from gateway.auth import create_key
    from gateway.core.settings import LOCAL_MODEL, Settings
    from tests.conftest import wait_ready
    from tests.fakes import fake_installed

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        opts = {"data_dir": Path(tmp) / "data", "rate_limit_per_minute": 0}
        if kind == "fake":
            stack.enter_context(fake_installed())  # the gateway itself never serves fake/*
            opts.update(models=["fake/bench"], embedding_model="hash", load_models=False)
        else:
            opts.update(models=[LOCAL_MODEL])
        settings = Settings(**{**opts, **overrides})
        with TestClient(create_app(settings)) as client:
            wait_ready(client, timeout_s=600)
            key = create_key(client.app.state.services.db, tenant="bench", scope="admin")
            yield client, {"Authorization": f"Bearer {key}"}, settings
