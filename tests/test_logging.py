"""Logs as a setting: JSON lines when asked, litellm's per-call INFO lines kept out
unless asked for."""

from __future__ import annotations

import io
import json
import logging

import pytest

from gateway.core.settings import Settings
from gateway.tracing import configure_logging


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    lite = {n: logging.getLogger(n).level for n in ("LiteLLM", "litellm")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for n, lv in lite.items():
        logging.getLogger(n).setLevel(lv)


def _configure(**kw) -> io.StringIO:
    out = io.StringIO()
    configure_logging(Settings(models=["fake/test"], load_models=False, **kw),
                      handler=logging.StreamHandler(out))
    return out


def test_json_logs_are_one_object_per_line(restore_logging):
    out = _configure(log_format="json")
    logging.getLogger("gateway.x").warning("drift alarm: %s", "input",
                                           extra={"tenant": "acme", "signal": "input"})
    line = json.loads(out.getvalue().strip())
    assert line["message"] == "drift alarm: input" and line["level"] == "warning"
    assert line["tenant"] == "acme" and line["logger"] == "gateway.x"


def test_litellm_info_lines_are_kept_out_unless_asked(restore_logging):
    _configure()
    assert not logging.getLogger("LiteLLM").isEnabledFor(logging.INFO)
    assert logging.getLogger("LiteLLM").isEnabledFor(logging.WARNING)
    _configure(log_litellm=True)
    assert logging.getLogger("LiteLLM").isEnabledFor(logging.INFO)
