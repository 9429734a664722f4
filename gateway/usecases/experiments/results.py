"""Per-variant results: feedback events joined to exposures, by user.

Only exposures served under the user's own assignment count (not requests without a
user id, nor a rolled-back variant's users while they are served control), so each
arm is exactly the users randomized into it. What leaves here is counts and rates,
never user ids.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import and_, func, select

from gateway.schemas.experiments import (
    CONTROL,
    LiftOut,
    MetricOut,
    PointOut,
    RateOut,
    ResultsOut,
    SampleRatioOut,
    StoppingOut,
)
from gateway.services import Services
from gateway.tables import Experiment, ExperimentAssignment, Exposure, Feedback
from gateway.usecases.experiments import stats
from gateway.usecases.experiments.assign import BUCKETS
from gateway.usecases.experiments.manage import load_experiment

USED = frozenset({"selected", "sent", "edited"})


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    success: frozenset[str]  # a trial succeeds when any of these events arrived
    trial: frozenset[str] | None = None  # None: every exposure is a trial


METRICS = {
    "smart_replies": (
        Metric("selection_rate", "responses where a suggestion was selected, sent or edited",
               USED),
        Metric("edit_rate", "of responses whose suggestion was used, those edited before sending",
               frozenset({"edited"}), trial=USED),
    ),
    "subject_lines": (
        Metric("open_rate", "responses whose subject line was opened (or clicked)",
               frozenset({"opened", "clicked"})),
        Metric("click_rate", "responses whose subject line was clicked", frozenset({"clicked"})),
    ),
}
TIMELINE_POINTS = 20


@dataclass(frozen=True)
class Served:
    user_id: str
    variant: str
    at: datetime
    events: frozenset[str]


def _served(services: Services, exp: Experiment) -> list[Served]:
    with services.db.session() as s:
        rows = s.execute(
            select(Exposure.request_id, Exposure.user_id, Exposure.variant, Exposure.created_at,
                   Feedback.event)
            .outerjoin(Feedback, and_(Feedback.tenant_id == Exposure.tenant_id,
                                      Feedback.request_id == Exposure.request_id))
            .where(Exposure.experiment_id == exp.id, Exposure.user_id.is_not(None),
                   Exposure.variant == Exposure.assigned)).all()
    by_request: dict[str, tuple] = {}
    events: dict[str, set] = defaultdict(set)
    for rid, user, variant, at, event in rows:
        by_request[rid] = (user, variant, at)
        if event:
            events[rid].add(event)
    return [Served(u, v, at, frozenset(events[rid])) for rid, (u, v, at) in by_request.items()]


def _per_user(served: list[Served], metric: Metric) -> tuple[np.ndarray, np.ndarray]:
    succ: dict[str, int] = defaultdict(int)
    trials: dict[str, int] = defaultdict(int)
    for x in served:
        if metric.trial is None or x.events & metric.trial:
            trials[x.user_id] += 1
            succ[x.user_id] += bool(x.events & metric.success)
    users = list(trials)
    return (np.array([succ[u] for u in users], dtype=float),
            np.array([trials[u] for u in users], dtype=float))


def _rate(served: list[Served], metric: Metric, alpha: float) -> stats.Rate:
    return stats.ratio_rate(*_per_user(served, metric), alpha=alpha)


def _rate_out(r: stats.Rate) -> RateOut:
    return RateOut(users=r.users, trials=r.trials, successes=r.successes, rate=round(r.rate, 6),
                   ci_low=round(r.low, 6), ci_high=round(r.high, 6))


def _lift_out(c: stats.Comparison) -> LiftOut:
    lift_ci = None if c.lift_low is None else (round(c.lift_low, 6), round(c.lift_high, 6))
    return LiftOut(difference=round(c.difference, 6),
                   difference_ci=(round(c.diff_low, 6), round(c.diff_high, 6)),
                   lift=None if c.lift is None else round(c.lift, 6), lift_ci=lift_ci,
                   significant=c.significant)


def _sample_ratio(services: Services, exp: Experiment) -> stats.SampleRatio:
    with services.db.session() as s:
        counts = s.execute(
            select(ExperimentAssignment.epoch, ExperimentAssignment.variant, func.count())
            .where(ExperimentAssignment.experiment_id == exp.id)
            .group_by(ExperimentAssignment.epoch, ExperimentAssignment.variant)).all()
    per_epoch: dict[int, dict[str, int]] = defaultdict(dict)
    for epoch, variant, n in counts:
        per_epoch[epoch][variant] = n
    shares = {e["epoch"]: {**e["allocation"], CONTROL: BUCKETS - sum(e["allocation"].values())}
              for e in exp.epochs}
    return stats.sample_ratio([(shares[e], c) for e, c in sorted(per_epoch.items())
                               if e in shares])


def _timeline(served: list[Served], metric: Metric, variants: list[str],
              alpha: float) -> list[PointOut]:
    if not served:
        return []
    times = sorted(x.at for x in served)
    first, last = times[0], times[-1]
    cuts = [first + (last - first) * (i + 1) / TIMELINE_POINTS for i in range(TIMELINE_POINTS)]
    out = []
    for cut in dict.fromkeys(cuts):
        upto = [x for x in served if x.at <= cut]
        out.append(PointOut(at=cut, rates={
            v: _rate_out(_rate([x for x in upto if x.variant == v], metric, alpha))
            for v in variants}))
    return out


def _stopping(exp: Experiment, primary: dict[str, stats.Rate],
              comparisons: dict[str, stats.Comparison], srm: stats.SampleRatio,
              alpha: float) -> StoppingOut:
    control = primary[CONTROL]
    baseline = exp.baseline_rate or (control.rate if 0 < control.rate < 1 else None)
    need = (stats.required_per_arm(baseline, exp.min_detectable_lift, alpha=alpha,
                                   power=exp.power) if baseline else None)
    progress = {v: round(r.n_eff / need, 4) if need else 0.0 for v, r in primary.items()}
    common = {"required_per_arm": need, "baseline_rate": baseline,
              "min_detectable_lift": exp.min_detectable_lift, "alpha": alpha,
              "power": exp.power, "progress": progress}
    if srm.mismatch:
        return StoppingOut(**common, decision="sample_ratio_mismatch", message=(
            f"the users per variant do not match the allocation (chi-square p = "
            f"{srm.p_value:.2g}): the assignment or the exposure logging is broken, so no "
            "rate here can be trusted; find the cause before reading any result"))
    if need is None:
        return StoppingOut(**common, decision="keep_waiting", message=(
            "no control conversions yet, so the sample size cannot be computed; keep waiting "
            "(or set baseline_rate on the experiment)"))
    if min(progress.values()) < 1:
        slowest = min(progress, key=progress.get)
        return StoppingOut(**common, decision="keep_waiting", message=(
            f"fixed horizon: {need} effective observations per arm are needed to detect a "
            f"{exp.min_detectable_lift:+.0%} lift with {exp.power:.0%} power; {slowest} is at "
            f"{progress[slowest]:.0%}. Keep waiting: intervals before the horizon are not a "
            "decision (stopping when they first exclude zero inflates false positives)"))
    winners = {v: c for v, c in comparisons.items() if c.significant}
    if winners:
        said = "; ".join(
            f"{v}: {c.lift:+.1%} [{c.lift_low:+.1%}, {c.lift_high:+.1%}]" if c.lift is not None
            else f"{v}: {c.difference:+.4f}" for v, c in winners.items())
        return StoppingOut(**common, decision="significant", message=(
            f"horizon reached; the difference from control is trustworthy for {said} "
            f"(alpha {alpha:.3g} per comparison)"))
    return StoppingOut(**common, decision="no_difference", message=(
        "horizon reached and no treatment differs from control: any true lift is most likely "
        f"smaller than {exp.min_detectable_lift:+.0%}; stop the experiment"))


def experiment_results(*, services: Services, tenant_id: int, name: str) -> ResultsOut:
    with services.db.session() as s:
        exp = load_experiment(s, tenant_id, name)
    variants = [v["name"] for v in exp.variants]
    treated = [v for v in variants if v != CONTROL]
    alpha = exp.alpha / max(len(treated), 1)  # Bonferroni over the treatments
    served = _served(services, exp)
    by_variant = {v: [x for x in served if x.variant == v] for v in variants}
    metrics, primary_rates, primary_cmp = [], {}, {}
    for i, metric in enumerate(METRICS[exp.task]):
        rates = {v: _rate(by_variant[v], metric, alpha) for v in variants}
        cmps = {v: stats.compare(rates[v], rates[CONTROL], alpha) for v in treated}
        if i == 0:
            primary_rates, primary_cmp = rates, cmps
        metrics.append(MetricOut(
            name=metric.name, primary=i == 0, description=metric.description,
            rates={v: _rate_out(r) for v, r in rates.items()},
            vs_control={v: _lift_out(c) for v, c in cmps.items()}))
    srm = _sample_ratio(services, exp)
    return ResultsOut(
        experiment=exp.name, task=exp.task, status=exp.status,
        exposures={v: len(by_variant[v]) for v in variants}, metrics=metrics,
        sample_ratio=SampleRatioOut(chi2=round(srm.chi2, 4) if srm.chi2 != float("inf") else 1e9,
                                    dof=srm.dof, p_value=srm.p_value, mismatch=srm.mismatch),
        stopping=_stopping(exp, primary_rates, primary_cmp, srm, alpha),
        timeline=_timeline(served, METRICS[exp.task][0], variants, alpha))
