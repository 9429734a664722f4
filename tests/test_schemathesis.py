"""Property-based contract test: schemathesis drives every documented operation of the
in-process app with valid and invalid inputs and checks each answer against the OpenAPI
document (no 5xx, documented status codes, content types, headers and bodies).

Bounded (30 examples per operation and mode, derandomized) so it runs in ``make test``.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from schemathesis.python import asgi

from gateway.app import create_app
from gateway.auth import create_key

EXAMPLES = 30


@pytest.fixture
def gateway_app(tmp_path, fake):
    from gateway.core.settings import Settings

    s = Settings(data_dir=tmp_path / "data",
                 models=["fake/test"], embedding_model="hash", load_models=False,
                 # Limits off: schemathesis sends hundreds of (bad-key) requests from one
                 # address, and a 429 would hide the answer under test; the limits have
                 # their own tests (test_edge.py).
                 rate_limit_per_minute=0, auth_failures_per_minute=0,
                 llm_timeout_s=5.0, smart_reply_deadline_ms=300,
                 subject_line_deadline_ms=300)
    app = create_app(s)
    yield app
    # schemathesis owns the app's lifespan (started on first request) and its pytest
    # plugin ends it after each test, hence one app per test; end it here too.
    asgi.shutdown_lifespans()


@pytest.fixture
def api_schema(gateway_app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", gateway_app)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=EXAMPLES, deterministic=True)
    checks = schema.config.checks
    checks.update(included_check_names=["all"])
    # Rules JSON Schema cannot state (ids unique within a batch, a text that is not all
    # whitespace) make some schema-valid bodies a 422; the error body is still checked.
    checks.positive_data_acceptance.expected_statuses = [
        *checks.positive_data_acceptance.expected_statuses, "422"]
    # A schema-violating body can also be too large (413, documented) before it is parsed.
    checks.negative_data_rejection.expected_statuses = [
        *checks.negative_data_rejection.expected_statuses, "413"]
    end = time.monotonic() + 60
    while not gateway_app.state.services.ready:
        assert time.monotonic() < end, "gateway did not become ready"
        time.sleep(0.05)
    return schema


@pytest.fixture
def admin_auth(api_schema, gateway_app) -> dict:
    key = create_key(gateway_app.state.services.db, tenant="fuzz", scope="admin")
    return {"Authorization": f"Bearer {key}"}


def _run(schema, mode: GenerationMode, headers: dict | None, *, examples: int,
         only: str = "") -> list[str]:
    """Drive every operation (whose path starts with ``only``) with ``examples``
    generated cases; return one line per failing operation."""
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(only):
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate])
        def drive(case):
            case.call_and_validate(headers=dict(headers) if headers else None)

        try:
            drive()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE  # nothing to get wrong: no parameters
        except Exception as exc:  # noqa: BLE001 - collected so every operation is reported
            failures.append(f"{operation.method.upper()} {operation.path} ({mode}): "
                            f"{str(exc)[:1500]}")
    return failures


# schemathesis' own pytest plugin (``from_fixture``/``parametrize``) does not run under
# pytest 9.2 (it sets ``node._nodeid``), so the operations are driven here with its
# Hypothesis strategies and checks; the failure names the operation.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented(api_schema, admin_auth, mode):
    failures = _run(api_schema, mode, admin_auth, examples=EXAMPLES)
    assert not failures, "\n\n".join(failures)


def test_without_a_key_v1_operations_answer_as_documented(api_schema):
    failures = _run(api_schema, GenerationMode.POSITIVE, None, examples=5, only="/v1/")
    assert not failures, "\n\n".join(failures)
