"""FastAPI dependencies: the services container and the calling tenant."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from gateway.auth import Principal, authenticate
from gateway.errors import NotReady
from gateway.services import Services


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


# Declared as a security scheme so /docs offers "Authorize"; parsing stays in gateway.auth.
_bearer = APIKeyHeader(name="Authorization", auto_error=False, scheme_name="BearerKey",
                       description="`Bearer <api key>` (create one with `persona keys create`)")


def get_principal(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Depends(_bearer)] = None,
) -> Principal:
    principal = authenticate(services.db, authorization)
    request.state.tenant = principal.tenant
    services.rate_limiter.hit(principal.tenant_id)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_admin(principal: PrincipalDep) -> Principal:
    principal.require("admin")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


def require_ready(services: ServicesDep) -> Services:
    if not services.ready:
        raise NotReady("the gateway is still loading its models; retry in a few seconds")
    return services


ReadyServicesDep = Annotated[Services, Depends(require_ready)]


def get_arrival(request: Request) -> float:
    """When the request arrived (``time.monotonic()``), recorded first thing by the app's
    middleware; deadlines count from it."""
    arrived = getattr(request.state, "arrived", None)
    return arrived if arrived is not None else time.monotonic()


ArrivalDep = Annotated[float, Depends(get_arrival)]
