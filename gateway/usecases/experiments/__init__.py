"""Experiments: variants of the generation policy, served to users by a deterministic,
persisted assignment; staged rollout, rollback and a per-task kill switch; results.

``assign`` (bucket → variant, the per-request resolution), ``manage`` (create, ramp,
rollback, stop, kill switch), ``serve`` (what the routes call), ``results`` (rates,
lift, SRM, stopping rule), ``stats`` (the pure statistics); the HTML report lives with the eval report (``evals.experiment_report``).
"""
