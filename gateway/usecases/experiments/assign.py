"""Which variant a request is served under, read from the database on every request.

Assignment: ``bucket = sha256(experiment id, salt, user id) mod 10000``. Treatments
own consecutive bucket ranges from 0 in the order they were declared (a treatment
at 10% owns 1000 buckets); control owns the rest. The first time a user is resolved
their variant is written (``experiment_assignments``) and never changes after that:

- ramping a treatment up (1% → 10%) gives it more of the *newly* assigned users;
  users already assigned keep their variant (control users stay control, so the
  treated group grows only by new users), across restarts and replicas;
- ramping down likewise only changes where new users go;
- a rollback serves every user of the rolled-back variant under control at once
  (their assignment row stays, so ramping the variant up again brings them back);
- the kill switch serves the task rules only for everyone, with no experiment;
- a request without a user id is served control and is not counted in results.

Nothing is cached in the process: every request reads the experiment, so a change
takes effect on the next request on every replica.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.schemas.experiments import CONTROL
from gateway.services import Services
from gateway.tables import Experiment, ExperimentAssignment, KillSwitch
from gateway.usecases.policy import DEFAULT_POLICY, RULES_ONLY, GenerationPolicy

BUCKETS = 10_000


def bucket(experiment_id: int, salt: str, user_id: str) -> int:
    digest = hashlib.sha256(f"{experiment_id}:{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def variant_for_bucket(b: int, order: list[str], allocation: dict[str, int]) -> str:
    """``allocation``: buckets (basis points) per treatment, in declaration ``order``."""
    edge = 0
    for name in order:
        edge += allocation.get(name, 0)
        if b < edge:
            return name
    return CONTROL


def build_policy(task: str, overrides: dict) -> GenerationPolicy:
    """The policy a variant's overrides describe (validated when the variant was made)."""
    fields = {k: v for k, v in overrides.items() if v is not None}
    if "models" in fields:
        fields["models"] = tuple(fields["models"])
    if "subject_weights" in fields:
        from dataclasses import replace

        from gateway.usecases.subjects.rank import DEFAULT_WEIGHTS

        fields["subject_weights"] = replace(DEFAULT_WEIGHTS, **fields["subject_weights"])
    return GenerationPolicy(**fields)


@dataclass(frozen=True)
class Resolution:
    policy: GenerationPolicy
    experiment: str | None = None
    experiment_id: int | None = None
    variant: str | None = None  # served under
    assigned: str | None = None  # the user's assignment (None without a user id)


def treatments(exp: Experiment) -> list[str]:
    return [v["name"] for v in exp.variants if v["name"] != CONTROL]


def assign_user(services: Services, exp: Experiment, user_id: str) -> str:
    """The user's variant: the stored one, else the bucket's under today's allocation
    (written now, so it never moves)."""
    key = (exp.tenant_id, exp.id, user_id)
    with services.db.session() as s:
        row = s.get(ExperimentAssignment, key)
        if row is not None:
            return row.variant
    chosen = variant_for_bucket(bucket(exp.id, exp.salt, user_id), treatments(exp),
                                exp.allocation)
    try:
        with services.db.session() as s:
            s.add(ExperimentAssignment(tenant_id=exp.tenant_id, experiment_id=exp.id,
                                       user_id=user_id, variant=chosen, epoch=exp.epoch))
    except IntegrityError:  # another replica assigned them first: theirs stands
        with services.db.session() as s:
            return s.get(ExperimentAssignment, key).variant
    return chosen


def resolve(services: Services, *, tenant_id: int, task: str,
            user_id: str | None) -> Resolution:
    with services.db.session() as s:
        switch = s.get(KillSwitch, (tenant_id, task))
        if switch is not None and switch.rules_only:
            return Resolution(policy=RULES_ONLY)
        exp = s.scalar(select(Experiment).where(
            Experiment.tenant_id == tenant_id, Experiment.task == task,
            Experiment.status == "running").order_by(Experiment.id).limit(1))
    if exp is None:
        return Resolution(policy=DEFAULT_POLICY)
    return resolve_in(services, exp, user_id)


def kill_switched(services: Services, tenant_id: int, task: str) -> bool:
    with services.db.session() as s:
        switch = s.get(KillSwitch, (tenant_id, task))
        return switch is not None and switch.rules_only


def resolve_in(services: Services, exp: Experiment, user_id: str | None) -> Resolution:
    """The user's variant of ``exp`` (assigned now if new) and the policy it serves."""
    assigned = assign_user(services, exp, user_id) if user_id else None
    served = assigned or CONTROL
    if served in exp.rolled_back:
        served = CONTROL
    overrides = next((v["overrides"] for v in exp.variants if v["name"] == served), {})
    return Resolution(policy=build_policy(exp.task, overrides), experiment=exp.name,
                      experiment_id=exp.id, variant=served, assigned=assigned)
