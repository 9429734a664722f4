"""Custom litellm providers: the embedded local model and a scripted fake.

Both are registered the normal way (``litellm.custom_provider_map``), so every
call, in production and in tests, goes through litellm (``acompletion`` from the
gateway, ``completion`` for the start-up warm-up).

- ``local/<name>``: the GGUF model from settings, run in-process by llama-cpp-python.
- ``fake/<name>``: answers from a queue (``fake_llm().enqueue(...)``), optionally
  slowly or with an error; used by unit tests and by the gateway-overhead benchmark.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import threading
import time
import types
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from gateway.llm.client import _litellm
from gateway.llm.deadline import current_deadline


def _response(text: str, model: str, finish_reason: str = "stop"):
    litellm = _litellm()
    return litellm.ModelResponse(
        model=model,
        choices=[{"index": 0, "finish_reason": finish_reason,
                  "message": {"role": "assistant", "content": text}}],
    )


def _params(kwargs: dict) -> dict:
    return dict(kwargs.get("optional_params") or {})


@dataclass
class Scripted:
    text: str | None = None
    error: Exception | None = None
    delay_s: float = 0.0
    finish_reason: str = "stop"


_DEFAULT_REPLIES = (
    "Sounds good, thanks!",
    "Sorry, I can't make it.",
    "Could you tell me more?",
    "Thanks for letting me know.",
)


class FakeLLM:
    """A scripted model. Queue answers with ``enqueue``; otherwise it cycles through
    a few generic replies. ``delay_s`` makes it slow (the sleep honours the call's
    deadline, as the local model's generation does; a cancelled async call counts as
    stopped at the deadline too). ``calls`` keeps the last ``MAX_CALLS`` calls only, so
    a gateway serving ``fake/*`` (the benchmarks) does not grow without bound."""

    MAX_CALLS = 1000

    def __init__(self) -> None:
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._cycle = itertools.cycle(_DEFAULT_REPLIES)
        self.delay_s = 0.0
        self.error: Exception | None = None
        self.calls: list[dict] = []
        self.stopped_at_deadline = 0

    def enqueue(self, *texts: str, delay_s: float = 0.0, error: Exception | None = None,
                finish_reason: str = "stop") -> None:
        """Queue answers; ``finish_reason="length"`` plays a text cut off by max_tokens."""
        with self._lock:
            if error is not None:
                self._queue.append(Scripted(error=error, delay_s=delay_s))
            for t in texts:
                self._queue.append(Scripted(text=t, delay_s=delay_s,
                                            finish_reason=finish_reason))

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.calls.clear()
            self.delay_s = 0.0
            self.error = None
            self.stopped_at_deadline = 0

    def _take(self, messages: list[dict], params: dict) -> Scripted:
        with self._lock:
            self.calls.append({"messages": messages, "params": params})
            if len(self.calls) > self.MAX_CALLS:
                del self.calls[: len(self.calls) - self.MAX_CALLS]
            return self._queue.popleft() if self._queue else Scripted(
                text=next(self._cycle), delay_s=self.delay_s, error=self.error
            )

    def _stopped(self) -> None:
        with self._lock:
            self.stopped_at_deadline += 1

    @staticmethod
    def _answer(item: Scripted) -> tuple[str, str]:
        if item.error is not None:
            raise item.error
        return item.text or "", item.finish_reason

    def next(self, messages: list[dict], params: dict) -> tuple[str, str]:
        item = self._take(messages, params)
        if item.delay_s and not self._sleep(item.delay_s):
            self._stopped()
        return self._answer(item)

    async def anext(self, messages: list[dict], params: dict) -> tuple[str, str]:
        """``next`` without a thread: the delay is an ``asyncio.sleep`` that ends at the
        call's deadline or when the caller cancels."""
        item = self._take(messages, params)
        if item.delay_s:
            wait = item.delay_s
            deadline = current_deadline()
            if deadline is not None:
                wait = min(wait, max(deadline - time.monotonic(), 0.0))
            try:
                await asyncio.sleep(wait)
            except asyncio.CancelledError:
                self._stopped()
                raise
            if wait < item.delay_s:
                self._stopped()
        return self._answer(item)

    @staticmethod
    def _sleep(seconds: float) -> bool:
        """Sleep, but stop at the call's deadline; False when cut short."""
        end = time.monotonic() + seconds
        deadline = current_deadline()
        while time.monotonic() < end:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True


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


_fake = FakeLLM()
_local: dict[str, LocalLlama] = {}


def fake_llm() -> FakeLLM:
    """The process-wide fake model behind ``fake/*`` model strings."""
    return _fake


def _handler(generate, agenerate):
    litellm = _litellm()

    class Handler(litellm.CustomLLM):
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


def register_providers(*, local_model_path: str = "", n_ctx: int = 2048,
                       n_threads: int = 2) -> LocalLlama | None:
    """Register ``fake/*`` and (when a GGUF path is given) ``local/*`` with litellm.

    Returns the local model so the app can load it eagerly at start.
    """
    litellm = _litellm()
    entries = {"fake": _handler(_fake.next, _fake.anext)}
    local = None
    if local_model_path:
        local = _local.get(local_model_path)
        if local is None:
            local = _local[local_model_path] = LocalLlama(
                local_model_path, n_ctx=n_ctx, n_threads=n_threads)
        entries["local"] = _handler(local.generate, local.agenerate)
    keep = [e for e in (litellm.custom_provider_map or []) if e["provider"] not in entries]
    litellm.custom_provider_map = keep + [
        {"provider": name, "custom_handler": h} for name, h in entries.items()
    ]
    # litellm reads the map into its provider list when it resolves a model.
    from litellm.utils import custom_llm_setup

    custom_llm_setup()
    return local
