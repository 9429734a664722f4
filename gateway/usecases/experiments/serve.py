"""Serve a generation under the tenant's experiment (or kill switch): what routes call.

Resolve (tenant, task, user) → (experiment, variant, policy), generate under that
policy, record the exposure (keyed by tenant + request id) and say in the response
which experiment and variant it was served under. A request that fails records no
exposure, and neither does a smart reply that was not triggered (no-reply or bulk
mail: the user saw nothing, whatever the variant, so counting it would only dilute
both arms).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway.schemas.common import GenerationMeta
from gateway.services import Services
from gateway.tables import Exposure
from gateway.usecases.experiments.assign import Resolution, resolve
from gateway.usecases.policy import GenerationPolicy

R = TypeVar("R", bound=GenerationMeta)


def record_exposure(services: Services, *, tenant_id: int, request_id: str, user_id: str | None,
                    resolution: Resolution) -> None:
    with services.db.session() as s:
        s.add(Exposure(tenant_id=tenant_id, request_id=request_id,
                       experiment_id=resolution.experiment_id, user_id=user_id,
                       variant=resolution.variant, assigned=resolution.assigned))


async def serve_generation(*, services: Services, tenant_id: int, task: str,
                           user_id: str | None, request_id: str, arrived: float,
                           generate: Callable[[GenerationPolicy], Awaitable[R]]) -> R:
    # Both bookkeeping steps go first in the work pool (due at arrival).
    got = await services.work.run(lambda: resolve(services, tenant_id=tenant_id, task=task,
                                                  user_id=user_id), due=arrived)
    policy = got.policy
    if got.experiment_id is not None:
        policy = dataclasses.replace(policy, variant=f"{got.experiment}/{got.variant}")
    response = await generate(policy)
    if got.experiment_id is None:
        return response
    response.experiment, response.variant = got.experiment, got.variant
    if getattr(response, "triggered", True):
        await services.work.run(lambda: record_exposure(
            services, tenant_id=tenant_id, request_id=request_id, user_id=user_id,
            resolution=got), due=arrived)
    return response
