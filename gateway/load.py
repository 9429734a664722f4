"""Keeping every request's deadline under load: a CPU pool served earliest deadline
first, and a bound on the generation requests in flight.

CPU-bound request work (embedding, retrieval, guardrails, ranking, bookkeeping) runs
in ``WorkPool``, never on the event loop (where it would stall every other request's
timers) nor in the default thread pool (which everything else shares). The job whose
request is due first runs first, so a request that is nearly done is not queued
behind requests that just arrived; a job that could not start in time is dropped
(``Late``) instead of running for an answer nobody will read.

The pool also knows its pace (a moving average of how long a job runs), so a request
can ask, before queueing, whether its work could start in time (``expected_wait_s``)
and answer from rules at once when it could not. The estimate is of the queue as it
is now, so it recovers as soon as the queue drains: nothing stays refused.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import contextmanager

from gateway.core.errors import Overloaded


class Late(Overloaded):
    """A job could not start before its request's deadline: the gateway is overloaded."""


class WorkPool:
    def __init__(self, workers: int, *, name: str = "cpu") -> None:
        self._heap: list[tuple[float, int, Future, Callable, float | None]] = []
        self._order = itertools.count()
        self._cv = threading.Condition()
        self._closed = False
        self._workers = workers
        self._busy = 0  # jobs running
        self._step_s = 0.0  # moving average of a job's run time
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    @property
    def queued(self) -> int:
        return len(self._heap)

    def expected_wait_s(self) -> float:
        """How long a job submitted now would wait to start, at the recent pace (every
        queued job is due before a new request's: it arrived earlier)."""
        ahead = len(self._heap) + self._busy + 1 - self._workers
        return max(ahead, 0) / self._workers * self._step_s

    def submit(self, fn: Callable, *args, due: float, start_by: float | None = None) -> Future:
        """Run ``fn(*args)`` (in a copy of the caller's context); ``due`` orders the queue
        (earliest first); past ``start_by`` the job is not started and raises ``Late``."""
        ctx = contextvars.copy_context()
        fut: Future = Future()
        with self._cv:
            if self._closed:
                raise RuntimeError("the work pool is closed")
            heapq.heappush(self._heap, (due, next(self._order), fut,
                                        lambda: ctx.run(fn, *args), start_by))
            self._cv.notify()
        return fut

    async def run(self, fn: Callable, *args, due: float, start_by: float | None = None):
        """``submit`` and await the result; raises ``Late`` when it could not start in time
        (also when the wait passes ``start_by``: the queued job is then dropped)."""
        fut = self.submit(fn, *args, due=due, start_by=start_by)
        wrapped = asyncio.wrap_future(fut)
        if start_by is None:
            return await wrapped
        try:
            # Wait past start_by only for a job that has started (it finishes on its own).
            return await asyncio.wait_for(asyncio.shield(wrapped),
                                          timeout=max(start_by - time.monotonic(), 0.0))
        except TimeoutError:
            if fut.cancel():
                raise Late(_LATE) from None
            return await wrapped

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._heap and not self._closed:
                    self._cv.wait()
                if not self._heap:
                    return
                _, _, fut, job, start_by = heapq.heappop(self._heap)
            if not fut.set_running_or_notify_cancel():
                continue
            if start_by is not None and time.monotonic() > start_by:
                fut.set_exception(Late(_LATE))
                continue
            with self._cv:
                self._busy += 1
            t0 = time.monotonic()
            try:
                fut.set_result(job())
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting request
                fut.set_exception(exc)
            finally:
                took = time.monotonic() - t0
                with self._cv:
                    self._busy -= 1
                    self._step_s = took if not self._step_s else 0.9 * self._step_s + 0.1 * took

    def close(self) -> None:
        with self._cv:
            self._closed = True
            pending, self._heap = self._heap, []
            self._cv.notify_all()
        for _, _, fut, _, _ in pending:
            fut.cancel()


_LATE = ("the gateway is overloaded: this request's work could not start before its "
         "deadline; retry shortly, or send fewer requests at once")


class Admission:
    """At most ``limit`` generation requests in flight; the next gets 503 + Retry-After."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inflight = 0

    @contextmanager
    def enter(self):
        if self.inflight >= self.limit:
            raise Overloaded(f"{self.inflight} generation requests are in flight (the limit, "
                             "max_inflight_generations); retry after a second",
                             retry_after_s=1)
        self.inflight += 1
        try:
            yield
        finally:
            self.inflight -= 1
