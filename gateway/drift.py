"""Drift monitoring per tenant and task: the latest window of requests against the one
before it (the reference).

Each served generation is one ``Observation``: the unit embedding of the incoming
message, whether the model's text was served, the fallback reason, which guardrail
rules blocked a candidate, the mean suggestion length; feedback later marks it
selected. Per (tenant, task) the last ``2 * window`` observations are kept; once
both halves are full, every signal is a distance between them:

- ``input_embedding``: Euclidean distance between the two windows' mean message
  embeddings (the linear-kernel MMD): a switch of language or topic moves it.
- ``llm_share``, ``fallback:<reason>``, ``guardrail_block:<rule>``,
  ``selection_rate``: absolute change of the rate.
- ``suggestion_length``: relative change of the mean length.

Each value is a Prometheus gauge (``persona_drift``, with ``persona_drift_alarm`` 1
while past its threshold) and appears in ``GET /v1/monitoring``; crossing a
threshold logs one warning, falling back logs one info line.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from gateway.core.settings import Settings

log = logging.getLogger(__name__)

SELECTED_EVENTS = frozenset({"selected", "sent", "edited", "opened", "clicked"})


@dataclass
class Observation:
    vec: np.ndarray | None
    llm: bool
    fallback: str | None
    blocked_by: frozenset[str] = frozenset()
    length: float = 0.0
    selected: bool = False


@dataclass
class _Stream:
    obs: deque
    by_request: dict = field(default_factory=dict)  # request_id -> Observation (in obs)
    alarms: set = field(default_factory=set)
    values: dict = field(default_factory=dict)


def _rate(obs, pred) -> float:
    return sum(1 for o in obs if pred(o)) / len(obs) if obs else 0.0


def _mean_vec(obs) -> np.ndarray | None:
    vecs = [o.vec for o in obs if o.vec is not None]
    return np.mean(np.stack(vecs), axis=0) if vecs else None


def compare(ref: list[Observation], cur: list[Observation]) -> dict[str, float]:
    """Every drift signal between a reference and a current window."""
    out: dict[str, float] = {}
    mr, mc = _mean_vec(ref), _mean_vec(cur)
    if mr is not None and mc is not None:
        out["input_embedding"] = float(np.linalg.norm(mr - mc))
    out["llm_share"] = abs(_rate(cur, lambda o: o.llm) - _rate(ref, lambda o: o.llm))
    for reason in sorted({o.fallback for o in ref + cur if o.fallback}):
        out[f"fallback:{reason}"] = abs(_rate(cur, lambda o, r=reason: o.fallback == r)
                                        - _rate(ref, lambda o, r=reason: o.fallback == r))
    for rule in sorted({r for o in ref + cur for r in o.blocked_by}):
        out[f"guardrail_block:{rule}"] = abs(
            _rate(cur, lambda o, r=rule: r in o.blocked_by)
            - _rate(ref, lambda o, r=rule: r in o.blocked_by))
    lr = float(np.mean([o.length for o in ref])) if ref else 0.0
    lc = float(np.mean([o.length for o in cur])) if cur else 0.0
    out["suggestion_length"] = abs(lc - lr) / max(lr, 1.0)
    out["selection_rate"] = abs(_rate(cur, lambda o: o.selected)
                                - _rate(ref, lambda o: o.selected))
    return {k: round(v, 4) for k, v in out.items()}


class DriftMonitor:
    """In-process windows per (tenant, task); thread-safe (observations arrive from the
    work pool). ``metrics``: the app's ``Metrics`` (its drift gauges are set here)."""

    def __init__(self, settings: Settings, metrics=None) -> None:
        self.window = settings.drift_window
        self.thresholds = {"input_embedding": settings.drift_input_threshold,
                           "suggestion_length": settings.drift_length_threshold}
        self.rate_threshold = settings.drift_rate_threshold
        self.metrics = metrics
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._lock = threading.Lock()

    def threshold(self, signal: str) -> float:
        return self.thresholds.get(signal, self.rate_threshold)

    def observe(self, tenant: str, task: str, request_id: str, obs: Observation) -> None:
        with self._lock:
            st = self._streams.get((tenant, task))
            if st is None:
                st = self._streams[(tenant, task)] = _Stream(obs=deque(maxlen=2 * self.window))
            if len(st.obs) == st.obs.maxlen:
                old = st.obs[0]
                st.by_request = {k: v for k, v in st.by_request.items() if v is not old}
            st.obs.append(obs)
            st.by_request[request_id] = obs
            self._update(tenant, task, st)

    def observe_feedback(self, tenant: str, task: str, request_id: str, event: str) -> None:
        """Feedback on a request still in the windows: a selection event marks it."""
        if event not in SELECTED_EVENTS:
            return
        with self._lock:
            st = self._streams.get((tenant, task))
            obs = st.by_request.get(request_id) if st else None
            if obs is not None and not obs.selected:
                obs.selected = True
                self._update(tenant, task, st)

    def _update(self, tenant: str, task: str, st: _Stream) -> None:
        if len(st.obs) < 2 * self.window:
            return  # no full reference window yet: nothing to compare
        items = list(st.obs)
        st.values = compare(items[:self.window], items[self.window:])
        for signal, value in st.values.items():
            limit = self.threshold(signal)
            crossed = value > limit
            if self.metrics is not None:
                self.metrics.drift.labels(tenant=tenant, task=task, signal=signal).set(value)
                self.metrics.drift_alarm.labels(tenant=tenant, task=task,
                                                signal=signal).set(int(crossed))
            if crossed and signal not in st.alarms:
                st.alarms.add(signal)
                log.warning("drift alarm: tenant=%s task=%s signal=%s value=%.3f > "
                            "threshold %.3f", tenant, task, signal, value, limit,
                            extra={"tenant": tenant, "task": task, "signal": signal})
            elif not crossed and signal in st.alarms:
                st.alarms.discard(signal)
                log.info("drift cleared: tenant=%s task=%s signal=%s value=%.3f", tenant,
                         task, signal, value,
                         extra={"tenant": tenant, "task": task, "signal": signal})

    def report(self, tenant: str) -> list[dict]:
        """Every task's signals for one tenant (what ``GET /v1/monitoring`` shows)."""
        out = []
        with self._lock:
            for (t, task), st in sorted(self._streams.items()):
                if t != tenant:
                    continue
                out.append({"task": task, "window": self.window, "observed": len(st.obs),
                            "ready": len(st.obs) >= 2 * self.window,
                            "signals": [{"signal": k, "value": v,
                                         "threshold": self.threshold(k),
                                         "alarm": k in st.alarms}
                                        for k, v in sorted(st.values.items())]})
        return out


def observe_generation(services, *, tenant: str, task: str, request_id: str,
                       message_vec, served, fallback: str | None, trace) -> None:
    """One generation into the monitor (called where the use cases record it).
    Never fails a request: monitoring errors are logged."""
    monitor = getattr(services, "drift", None)
    if monitor is None:
        return
    try:
        vec = None
        if message_vec is not None:
            vec = np.asarray(message_vec, dtype=np.float32).ravel()
        blocked = frozenset(c["dropped_by"] for c in trace.candidates
                            if c["status"] == "blocked" and c["dropped_by"])
        lengths = [len(s.text) for s in served]
        monitor.observe(tenant, task, request_id, Observation(
            vec=vec, llm=any(s.source == "llm" for s in served), fallback=fallback,
            blocked_by=blocked, length=float(np.mean(lengths)) if lengths else 0.0))
    except Exception:  # monitoring must never fail a request
        log.warning("drift observation failed", exc_info=True)
