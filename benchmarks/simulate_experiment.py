"""Simulate an experiment end to end on a scratch data dir and write its report.

Synthetic users arrive over ``--days``; each is assigned through the gateway's own
assignment (``assign_user``: hash, persisted at first exposure), sees the task a few
times and selects a suggestion at their own rate (beta around the arm's true rate).
The treatment starts at 10% and is ramped to 50% halfway, so the SRM check runs per
epoch. Rows go straight into the tables the API reads (exposures, feedback).

    python benchmarks/simulate_experiment.py --out /tmp/sim --users 6000 --lift 0.15
"""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from gateway.auth import get_or_create_tenant
from gateway.core.settings import Settings
from gateway.schemas.experiments import ExperimentIn
from gateway.services import Services, build_services
from gateway.tables import Experiment, Exposure, Feedback
from gateway.usecases.experiments.assign import assign_user
from gateway.usecases.experiments.manage import create_experiment, ramp


def simulate(services: Services, tenant_id: int, *, name: str = "sim", users: int = 6000,
             base_rate: float = 0.30, lift: float = 0.15, days: int = 14,
             seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    create_experiment(services=services, tenant_id=tenant_id, spec=ExperimentIn(
        name=name, task="smart_replies",
        variants=[{"name": "one-sample", "overrides": {"samples": 1}}],
        allocation={"one-sample": 10}, min_detectable_lift=0.15, baseline_rate=base_rate))
    start = datetime(2026, 11, 1, tzinfo=UTC)
    arrivals = np.sort(rng.uniform(0, days, size=users))
    rates = {"control": base_rate, "one-sample": base_rate * (1 + lift)}
    ramped = False
    for i, day in enumerate(arrivals):
        if not ramped and day > days / 2:
            ramp(services=services, tenant_id=tenant_id, name=name, variant="one-sample",
                 percent=50)
            ramped = True
        with services.db.session() as s:
            exp = s.query(Experiment).filter_by(tenant_id=tenant_id, name=name).one()
        user = f"sim-{i}"
        variant = assign_user(services, exp, user)
        p = rates[variant]
        q = rng.beta(p * 8, (1 - p) * 8)
        rows, feedback = [], []
        for k in range(1 + rng.poisson(2)):
            at = start + timedelta(days=float(min(day + k * 0.5, days)))
            rid = uuid.uuid4().hex
            rows.append(Exposure(tenant_id=tenant_id, request_id=rid, experiment_id=exp.id,
                                 user_id=user, variant=variant, assigned=variant, created_at=at))
            if rng.random() < q:
                feedback.append(Feedback(tenant_id=tenant_id, user_id=user, request_id=rid,
                                         index=0, event="selected", created_at=at))
                if rng.random() < 0.2:
                    feedback.append(Feedback(tenant_id=tenant_id, user_id=user, request_id=rid,
                                             index=0, event="edited", final_text="…",
                                             created_at=at))
        with services.db.session() as s:
            s.add_all(rows + feedback)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--users", type=int, default=6000)
    ap.add_argument("--lift", type=float, default=0.15)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    settings = Settings(data_dir=args.out / "data", models=["fake/test"], embedding_model="hash",
                        load_models=False)
    services = build_services(settings)
    try:
        tenant_id = get_or_create_tenant(services.db, "sim")
        simulate(services, tenant_id, users=args.users, lift=args.lift, seed=args.seed)
        from evals.experiment_report import render_report
        from gateway.usecases.experiments.results import experiment_results

        got = experiment_results(services=services, tenant_id=tenant_id, name="sim")
        (args.out / "results.json").write_text(got.model_dump_json(indent=2))
        (args.out / "report.html").write_text(render_report(got), encoding="utf-8")
        print(got.stopping.decision, "-", got.stopping.message)
        print("wrote", args.out / "report.html")
    finally:
        services.close()


if __name__ == "__main__":
    main()
