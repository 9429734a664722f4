"""``persona ingest``: JSONL and mbox files through the same use case as the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from embeddings.history import HistoryService
from gateway.auth import create_key, get_or_create_tenant
from gateway.cli import app
from gateway.commands.mailtext import split_reply
from gateway.core.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "history"


@pytest.fixture
def data_env(tmp_path, monkeypatch):
    settings = Settings(data_dir=tmp_path / "data", models=["fake/test"], embedding_model="hash",
                        load_models=False)
    for key, value in {"PERSONA_DATA_DIR": str(settings.data_dir),
                       "PERSONA_MODELS": '["fake/test"]', "PERSONA_EMBEDDING_MODEL": "hash",
                       "PERSONA_LOAD_MODELS": "false"}.items():
        monkeypatch.setenv(key, value)
    from gateway.services import build_services

    services = build_services(settings)
    create_key(services.db, tenant="acme")
    yield services
    services.close()


def run(*args):
    result = CliRunner().invoke(app, ["ingest", *map(str, args)])
    return result.exit_code, result.stdout


def stored(services, user="u1"):
    tenant = get_or_create_tenant(services.db, "acme")
    hist: HistoryService = services.history
    items, _ = hist.list(tenant, user, limit=100, cursor=None)
    return {i.id: i for i in items}


def summary_numbers(out: str) -> list[int]:
    row = next(line for line in out.splitlines() if line.count("│") == 4)
    return [int(x) for x in row.strip("│ ").replace("│", " ").split()]


@pytest.mark.parametrize("batch_size", [256, 2])
def test_jsonl_ingest_reports_accepted_skipped_and_errors_by_line(data_env, batch_size):
    code, out = run("--tenant", "acme", "--user", "u1", "--batch-size", batch_size,
                    FIXTURES / "items.jsonl")
    assert code == 1  # some lines had errors
    assert summary_numbers(out) == [3, 1, 4]
    for line, what in [(3, "not valid JSON"), (4, "kind"), (7, "text"), (9, "j2")]:
        assert f"line {line}: " in out and what in out.split(f"line {line}: ")[1].splitlines()[0]
    items = stored(data_env)
    assert sorted(items) == ["j1", "j2", "j5"]
    assert items["j2"].text == "Attached is the Q3 budget draft."  # not overwritten
    assert items["j1"].context.startswith("Can we move")

    code, out = run("--tenant", "acme", "--user", "u1", FIXTURES / "items.jsonl")
    assert summary_numbers(out)[:2] == [0, 4]  # re-running is idempotent
    assert len(stored(data_env)) == 3


def test_mbox_ingest_pairs_replies_and_strips_quotes_and_signatures(data_env):
    code, out = run("--tenant", "acme", "--user", "u1", "--sender", "ana@example.com",
                    FIXTURES / "sent.mbox")
    assert code == 0, out
    assert summary_numbers(out) == [4, 2, 0]
    items = stored(data_env)
    assert sorted(items) == ["followup-1@example.com", "new-1@example.com",
                             "reply-1@example.com", "reply-2@example.com"]

    r1 = items["reply-1@example.com"]
    assert (r1.kind, r1.text, r1.subject) == ("sent_reply", "Friday at 3pm works for me.",
                                              "Re: Thursday")
    assert r1.context == "Can we move our Thursday meeting to Friday at 3pm?"  # via In-Reply-To
    assert r1.timestamp.isoformat() == "2026-11-02T10:05:00+00:00"

    r2 = items["reply-2@example.com"]
    assert r2.text == "Yes, I paid it yesterday \u2014 thanks for checking."
    assert r2.context == "Did you pay the March invoice?"  # its own quote, first level only

    follow = items["followup-1@example.com"]  # only a References header names the parent
    assert (follow.kind, follow.context) == ("sent_reply", r1.context)

    new = items["new-1@example.com"]
    assert (new.kind, new.context) == ("sent_email", None)
    assert new.text == "Hi all, the offsite agenda is in the shared folder."
    tenant = get_or_create_tenant(data_env.db, "acme")
    hits = data_env.history.retrieve(tenant, "u1", "paid the invoice", k=1)
    assert [h.id for h in hits] == ["reply-2@example.com"]


def test_mbox_without_sender_takes_every_message(data_env):
    code, out = run("--tenant", "acme", "--user", "u1", FIXTURES / "sent.mbox")
    assert code == 0, out
    assert summary_numbers(out) == [5, 1, 0]
    assert stored(data_env)["orig-1@example.com"].kind == "sent_email"


@pytest.mark.parametrize("args,message", [
    (["--tenant", "nope", "--user", "u1"], "unknown tenant"),
    (["--tenant", "acme", "--user", "bad user"], "--user"),
])
def test_bad_arguments_fail_before_writing(data_env, args, message):
    result = CliRunner().invoke(app, ["ingest", *args, str(FIXTURES / "items.jsonl")])
    assert result.exit_code == 2
    assert message in result.stderr
    assert stored(data_env) == {}


def test_split_reply_handles_outlook_blocks_and_nested_quotes():
    own, quoted = split_reply("Thanks, will do.\n\n-----Original Message-----\nFrom: Bob\n"
                              "Sent: Monday\nSubject: x\n\nPlease send the report.\n")
    assert (own, quoted) == ("Thanks, will do.", "Please send the report.")
    own, quoted = split_reply("> question one?\nAnswer one.\n> question two?\nAnswer two.\n"
                              "-- \nsig line")
    assert own == "Answer one.\nAnswer two."
    assert quoted == "question one?\nquestion two?"
