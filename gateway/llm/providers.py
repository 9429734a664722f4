"""Custom litellm providers: the embedded local model, and the registry that installs them.

Providers are registered the normal way (``litellm.custom_provider_map``), so every
call goes through litellm (``acompletion`` from the gateway, ``completion`` for the
start-up warm-up).

- ``local/<name>``: the GGUF model from settings, run in-process by llama-cpp-python.

The scripted fake model (``fake/*``) is not shipped here: it lives in tests/fakes.py
and is installed by the tests and benchmarks that use it, through a
``ProviderRegistry`` like this one.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor

from gateway.llm.client import _litellm
from gateway.llm.deadline import current_deadline
from gateway.llm.likelihood import LikelihoodPass


def _response(text: str, model: str, finish_reason: str = "stop"):
    litellm = _litellm()
    return litellm.ModelResponse(
        model=model,
        choices=[{"index": 0, "finish_reason": finish_reason,
                  "message": {"role": "assistant", "content": text}}],
    )


def _params(kwargs: dict) -> dict:
    return dict(kwargs.get("optional_params") or {})


class LocalLlama:
    """SmolLM2 (or any GGUF chat model) in-process via llama-cpp-python.

    One generation at a time (a llama context is not thread-safe). A generation
    checks the caller's deadline on every token and stops when it passes, so a
    timed-out request never keeps the model busy for the next one. llama.cpp
    reuses the longest common token prefix with the previous call, so prompts
    that start with the same fixed text only pay prefill for what differs.
    """

    def __init__(self, model_path: str, *, n_ctx: int = 2048, n_threads: int = 2):
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._llama = None
        self._lock = threading.Lock()
        self.stopped_at_deadline = 0
        # Generation has a thread of its own: never the default pool, which the rest of
        # the process (and litellm) shares.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-llm")

    async def agenerate(self, messages: list[dict], params: dict) -> tuple[str, str]:
        """``generate`` on the model's own thread, in a copy of the caller's context (so
        it sees the deadline and stops itself there even when the caller gave up)."""
        ctx = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, ctx.run, self.generate, messages, params)

    def load(self):
        if self._llama is None:
            from llama_cpp import Llama

            self._llama = Llama(
                model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                n_batch=256, verbose=False, seed=0,
            )
        return self._llama

    async def ascore(self, messages: list[dict], texts: list[str]) -> list[float | None]:
        """``score`` on the model's own thread (see ``agenerate``)."""
        ctx = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, ctx.run, self.score, messages, texts)

    def score(self, messages: list[dict], texts: list[str]) -> list[float | None]:
        """The mean log-probability per token of each text as the assistant's next turn
        (its end-of-turn token included), None for those not scored before the caller's
        deadline. One prefill of the shared prompt (reused from llama.cpp's cache when a
        generation just ran on it), then a prefill-only pass per text: no decoding."""
        deadline = current_deadline()
        wait = -1 if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not self._lock.acquire(timeout=wait):
            raise TimeoutError("local model busy until the deadline")
        try:
            return LikelihoodPass(self.load()).run(messages, texts, deadline)
        finally:
            self._lock.release()

    def count_tokens(self, text: str) -> int:
        return len(self.load().tokenize(text.encode(), add_bos=False, special=True))

    def generate(self, messages: list[dict], params: dict) -> tuple[str, str]:
        """The completion's text and finish reason ("length": cut off by max_tokens)."""
        deadline = current_deadline()
        wait = -1 if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not self._lock.acquire(timeout=wait):
            raise TimeoutError("local model busy until the deadline")
        try:
            llama = self.load()
            # Stream so we can stop at the deadline: closing the generator ends decoding.
            stream = llama.create_chat_completion(
                messages=messages,
                max_tokens=int(params.get("max_tokens") or 64),
                temperature=float(params.get("temperature", 0.7)),
                top_p=float(params.get("top_p", 0.95)),
                stop=params.get("stop") or None,
                seed=params.get("seed"),
                repeat_penalty=1.15,
                stream=True,
            )
            parts: list[str] = []
            finish_reason = "stop"
            try:
                for chunk in stream:
                    choice = chunk["choices"][0]
                    parts.append(choice["delta"].get("content") or "")
                    finish_reason = choice.get("finish_reason") or finish_reason
                    if deadline is not None and time.monotonic() >= deadline:
                        self.stopped_at_deadline += 1
                        break
            finally:
                stream.close()
            return "".join(parts), finish_reason
        finally:
            self._lock.release()


def _handler(generate, agenerate, ascore=None):
    litellm = _litellm()

    class Handler(litellm.CustomLLM):
        # The gateway's own extension (not litellm's): candidate scoring, or None.
        score = staticmethod(ascore) if ascore is not None else None

        def completion(self, model: str, messages: list, *args, **kwargs):
            params = _params(kwargs)
            params["model"] = model
            text, finish_reason = generate(messages, params)
            return _response(text, model, finish_reason)

        def acompletion(self, model: str, messages: list, *args, **kwargs):
            params = _params(kwargs)
            params["model"] = model
            return _when_awaited(respond, messages, params)

    async def respond(messages: list, params: dict):
        text, finish_reason = await agenerate(messages, params)
        return _response(text, params["model"], finish_reason)

    return Handler()


@types.coroutine
def _when_awaited(fn, *args):
    """``fn(*args)`` awaited, but its coroutine is made only once this is awaited.

    litellm builds the handler's awaitable in a worker thread and awaits it after; a
    caller cancelled in between (its deadline passed) drops it. A plain coroutine
    dropped so warns "coroutine ... was never awaited"; this generator-based one (which
    litellm's ``asyncio.iscoroutine`` check accepts) leaves nothing behind."""
    return (yield from fn(*args).__await__())


class ProviderRegistry:
    """The custom providers an ``LLMClient`` is served by, e.g. ``local/*``.

    litellm's own hook for custom providers is its global ``custom_provider_map``;
    ``install`` is the one place that writes it: it puts this registry's handlers in
    (replacing any earlier handler of the same name, so installing twice changes
    nothing) and ``uninstall`` takes out exactly what it put in and gives back what it
    replaced (two services in one process, e.g. in tests, each closing in turn, leave
    the other's ``local/*`` working). The registry itself is
    plain instance state, owned by the services that built it; tests install their
    own (``fake/*``, tests/fakes.py) the same way.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, object] = {}
        self._listed: set[str] = set()  # names install added to litellm's provider lists
        self._replaced: list[dict] = []  # other handlers' entries install took out

    def add(self, name: str, generate, agenerate, ascore=None) -> None:
        """Serve ``name/*`` models: ``generate(messages, params)`` (blocking) and
        ``agenerate`` (async) return the completion's text and finish reason; ``ascore``
        (async, optional) ``(messages, texts)`` returns each text's mean log-probability
        per token as the next assistant turn (None where it ran out of time)."""
        self._handlers[name] = _handler(generate, agenerate, ascore)

    @property
    def names(self) -> list[str]:
        return sorted(self._handlers)

    def install(self) -> ProviderRegistry:
        litellm = _litellm()
        from litellm.utils import custom_llm_setup

        mine = {id(h) for h in self._handlers.values()}
        keep, replaced = [], []
        for e in litellm.custom_provider_map:
            taken = e["provider"] in self._handlers
            (replaced if taken and id(e["custom_handler"]) not in mine else
             keep if not taken else []).append(e)
        self._replaced += replaced
        litellm.custom_provider_map = keep + [
            {"provider": name, "custom_handler": h} for name, h in self._handlers.items()]
        self._listed |= {n for n in self._handlers if n not in litellm.provider_list}
        # litellm reads the map into its provider lists when it resolves a model.
        custom_llm_setup()
        return self

    def uninstall(self) -> None:
        litellm = _litellm()
        mine = {id(h) for h in self._handlers.values()}
        left = [e for e in litellm.custom_provider_map if id(e["custom_handler"]) not in mine]
        served = {e["provider"] for e in left}
        back = [e for e in self._replaced if e["provider"] not in served]
        self._replaced = []
        litellm.custom_provider_map = left + back
        still = {e["provider"] for e in litellm.custom_provider_map}
        for name in self._listed - still:
            for names in (litellm.provider_list, litellm._custom_providers):
                if name in names:
                    names.remove(name)
        self._listed &= still


def installed_providers() -> list[str]:
    """The custom provider names litellm would dispatch to now (ours or anyone's)."""
    return sorted({e["provider"] for e in _litellm().custom_provider_map})
