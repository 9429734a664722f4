"""The scripted fake model behind ``fake/*`` model strings: tests and benchmarks only.

It is a litellm custom provider like the local model, installed through a
``ProviderRegistry`` (the real provider path), never by the gateway itself:

    with fake_installed() as fake:
        fake.enqueue("Sounds good!")
        ...  # any LLMClient (or app) whose models include "fake/<anything>"
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from gateway.llm.deadline import current_deadline
from gateway.llm.providers import ProviderRegistry


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
        # Candidate scoring (``rank="likelihood"``): text -> mean log-probability; a
        # text not listed scores ``default_score``. ``scored`` records what was asked.
        self.scores: dict[str, float] = {}
        self.default_score = -5.0
        self.scored: list[list[str]] = []

    def enqueue(self, *texts: str, delay_s: float = 0.0, error: Exception | None = None,
                finish_reason: str = "stop") -> None:
        """Queue answers; ``finish_reason="length"`` plays a text cut off by max_tokens."""
        with self._lock:
            if error is not None:
                self._queue.append(Scripted(error=error, delay_s=delay_s))
            for t in texts:
                self._queue.append(Scripted(text=t, delay_s=delay_s,
                                            finish_reason=finish_reason))

    async def ascore(self, messages: list[dict], texts: list[str]) -> list[float | None]:
        with self._lock:
            self.scored.append(list(texts))
            return [self.scores.get(t, self.default_score) for t in texts]

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.calls.clear()
            self.scores.clear()
            self.scored.clear()
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


@contextmanager
def fake_installed(fake: FakeLLM | None = None, *, provider: str = "fake") -> Iterator[FakeLLM]:
    """``fake/*`` (or ``<provider>/*``, e.g. ``local`` in place of the embedded model)
    answered by ``fake`` (a new one by default) until the block ends."""
    fake = fake if fake is not None else FakeLLM()
    registry = ProviderRegistry()
    registry.add(provider, fake.next, fake.anext, fake.ascore)
    registry.install()
    try:
        yield fake
    finally:
        registry.uninstall()
