"""The `persona` CLI contract that scripts depend on."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from typer.testing import CliRunner

from gateway.cli import app

runner = CliRunner()


def _env(tmp_path):
    return {"PERSONA_DATA_DIR": str(tmp_path / "data"), "PERSONA_MODELS": '["fake/test"]',
            "PERSONA_EMBEDDING_MODEL": "hash", "PERSONA_LOAD_MODELS": "false"}


def test_keys_create_prints_key_last_and_stores_only_hash(tmp_path):
    res = runner.invoke(app, ["keys", "create", "--tenant", "acme", "--scope", "admin"],
                        env=_env(tmp_path))
    assert res.exit_code == 0, res.output
    key = res.stdout.strip().splitlines()[-1]
    assert key.startswith("pk_") and len(key) > 30
    assert key.encode() not in (tmp_path / "data" / "persona.sqlite3").read_bytes()

    listed = runner.invoke(app, ["keys", "list"], env=_env(tmp_path))
    assert listed.exit_code == 0
    assert "acme" in listed.stdout and key[:10] in listed.stdout and key not in listed.stdout

    revoked = runner.invoke(app, ["keys", "revoke", "1"], env=_env(tmp_path))
    assert revoked.exit_code == 0
    assert "revoked" in runner.invoke(app, ["keys", "list"], env=_env(tmp_path)).stdout


def test_keys_create_rejects_bad_scope_and_tenant(tmp_path):
    res = runner.invoke(app, ["keys", "create", "--tenant", "acme", "--scope", "root"],
                        env=_env(tmp_path))
    assert res.exit_code == 2
    res = runner.invoke(app, ["keys", "create", "--tenant", "bad name!"], env=_env(tmp_path))
    assert res.exit_code == 2


@pytest.mark.parametrize("key_id", ["99", "0", "-1", str(2**63)])
def test_revoke_unknown_key_is_an_error(tmp_path, key_id):
    # 2**63 does not fit an SQLite integer: it is an unknown key, not an OverflowError.
    res = runner.invoke(app, ["keys", "revoke", "--", key_id], env=_env(tmp_path))
    assert res.exit_code == 2, res.output
    assert "no API key with id" in res.output


def test_invalid_setting_is_reported_by_name(tmp_path):
    env = {**_env(tmp_path), "PERSONA_PORT": "99999"}
    res = runner.invoke(app, ["keys", "list"], env=env)
    assert res.exit_code == 2
    assert "port" in res.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_first_start_creates_default_key_and_answers(tmp_path):
    port = _free_port()
    env = {**os.environ, **_env(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from gateway.cli import main; main()", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        key = None
        lines = []
        deadline = time.monotonic() + 60
        while key is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "PERSONA_API_KEY=" in line:
                key = line.strip().split("PERSONA_API_KEY=", 1)[1]
        assert key, "".join(lines)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert httpx.post(f"{base}/v1/feedback", json={}).status_code == 401
        r = httpx.post(f"{base}/v1/feedback", json={"request_id": "x", "index": 0, "event": "sent"},
                       headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 404  # authenticated: unknown request id
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # second start: no new key printed
    proc2 = subprocess.Popen(
        [sys.executable, "-c", "from gateway.cli import main; main()", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        first = proc2.stdout.readline()
        assert "PERSONA_API_KEY" not in first and "Persona Gateway on" in first
    finally:
        proc2.terminate()
        proc2.wait(timeout=20)
