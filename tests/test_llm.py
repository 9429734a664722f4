"""The LLM interface, through the real litellm path with the fake provider."""

import asyncio
import time

import pytest

from gateway.core.errors import LLMError, LLMTimeout
from gateway.core.settings import LOCAL_MODEL, default_gguf_path
from gateway.llm import LLMClient, LocalLlama, ProviderRegistry

MSGS = [{"role": "user", "content": "Can we meet Friday?"}]


@pytest.fixture(scope="module")
def local_model():
    """The embedded model as the gateway installs it, loaded once for this module."""
    local = LocalLlama(default_gguf_path())
    registry = ProviderRegistry()
    registry.add("local", local.generate, local.agenerate)
    registry.install()
    yield local
    registry.uninstall()


def run(coro):
    return asyncio.run(coro)


def test_mocked_response_comes_back_through_litellm(fake):
    fake.enqueue("Friday works for me.")
    out = run(LLMClient(["fake/test"]).complete(MSGS, max_tokens=20, temperature=0.3))
    assert out.text == "Friday works for me."
    assert out.model == "fake/test"
    # the provider saw our messages and parameters, passed through litellm
    assert fake.calls[0]["messages"][0]["content"] == "Can we meet Friday?"
    assert fake.calls[0]["params"]["max_tokens"] == 20
    assert out.finish_reason == "stop"


def test_finish_reason_length_survives_litellm(fake):
    fake.enqueue("Friday works for me and I", finish_reason="length")
    out = run(LLMClient(["fake/test"]).complete(MSGS, max_tokens=6))
    assert out.finish_reason == "length" and out.text == "Friday works for me and I"


def test_timeout_really_fires_and_the_slow_call_stops_itself(fake):
    fake.enqueue("too late", delay_s=5.0)
    client = LLMClient(["fake/slow"], timeout_s=0.2, retries=0)
    with pytest.raises(LLMTimeout):
        run(client.complete(MSGS))
    # asyncio.run waited for the worker thread: the slow call saw the deadline and stopped
    assert fake.stopped_at_deadline == 1
    # the next call is served normally: the slow generation did not keep the slot
    fake.enqueue("on time")
    assert run(client.complete(MSGS)).text == "on time"


def test_falls_back_to_the_next_model_in_the_chain(fake):
    fake.enqueue(error=RuntimeError("provider down"))
    fake.enqueue("from the fallback")
    out = run(LLMClient(["fake/primary", "fake/backup"], retries=0).complete(MSGS))
    assert out.text == "from the fallback"
    assert out.model == "fake/backup"
    assert [c["params"]["model"] for c in fake.calls] == ["primary", "backup"]


def test_retries_are_bounded(fake):
    for _ in range(5):
        fake.enqueue(error=RuntimeError("flaky"))
    with pytest.raises(LLMError) as exc:
        run(LLMClient(["fake/a"], retries=2).complete(MSGS))
    assert exc.value.attempts == 3
    assert len(fake.calls) == 3


def test_retry_recovers_from_one_failure(fake):
    fake.enqueue(error=RuntimeError("flaky"))
    fake.enqueue("second try")
    assert run(LLMClient(["fake/a"], retries=1).complete(MSGS)).text == "second try"


def test_passed_deadline_is_a_timeout_without_calling_any_model(fake):
    with pytest.raises(LLMTimeout):
        run(LLMClient(["fake/a", "fake/b"]).complete(MSGS, deadline=time.monotonic() - 1))
    assert fake.calls == []


def test_deadline_bounds_the_whole_chain(fake):
    fake.enqueue("slow", delay_s=3.0)
    fake.enqueue("never reached")
    client = LLMClient(["fake/a", "fake/b"], timeout_s=10, retries=0)
    with pytest.raises(LLMTimeout):
        run(client.complete(MSGS, deadline=time.monotonic() + 0.2))
    assert len(fake.calls) == 1


def test_unknown_provider_is_an_llm_error_not_a_crash():
    with pytest.raises(LLMError, match="nosuchprovider"):
        run(LLMClient(["nosuchprovider/x"], retries=0).complete(MSGS))


@pytest.mark.e2e
def test_embedded_model_returns_text(local_model):
    out = run(LLMClient([LOCAL_MODEL], timeout_s=120).complete(
        [{"role": "user", "content": "Reply in one short sentence: can we meet on Friday?"}],
        max_tokens=24, temperature=0.2, seed=1))
    assert out.model == LOCAL_MODEL
    assert len(out.text.strip()) > 0
    # Three tokens cannot hold a sentence: the provider reports the cut, as hosted ones do.
    cut = run(LLMClient([LOCAL_MODEL], timeout_s=120).complete(
        [{"role": "user", "content": "Write a long story about a ship."}],
        max_tokens=3, temperature=0.2, seed=1))
    assert cut.finish_reason == "length"


@pytest.mark.e2e
def test_embedded_model_stops_itself_at_the_deadline(local_model):
    import contextvars

    from gateway.llm.deadline import set_deadline

    local = local_model
    local.load()
    before = local.stopped_at_deadline
    ctx = contextvars.copy_context()
    ctx.run(set_deadline, time.monotonic() + 0.3)
    text, _ = ctx.run(local.generate,
                      [{"role": "user", "content": "Write a long story about a ship."}],
                      {"max_tokens": 400, "temperature": 0.8})
    assert local.stopped_at_deadline == before + 1
    assert local.count_tokens(text) < 400


def test_an_acompletion_litellm_drops_leaves_no_unawaited_coroutine(fake):
    # litellm builds the provider's awaitable in a worker thread and awaits it later; a
    # call cancelled at its deadline in between drops it ("coroutine ... was never
    # awaited" in the schemathesis run, deadline_ms=50).
    import gc
    import warnings

    from gateway.llm.providers import _handler

    handler = _handler(fake.next, fake.anext)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dropped = handler.acompletion("fake/x", MSGS)
        del dropped
        gc.collect()
    assert [w for w in caught if issubclass(w.category, RuntimeWarning)] == []
    fake.enqueue("Friday works.")
    resp = run(handler.acompletion("fake/x", MSGS))  # awaited, it answers as before
    assert resp.choices[0].message.content == "Friday works."
