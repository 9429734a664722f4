"""FastAPI dependencies: the services container and the calling tenant."""

from __future__ import annotations

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
    # gateway.edge has looked the key up (and rate-limited the tenant) before the body
    # was read; a route outside its reach authenticates here.
    principal = getattr(request.state, "principal", None)
    if principal is None:
        if error := getattr(request.state, "auth_error", None):
            raise error
        principal = authenticate(services.db, authorization)
        services.rate_limiter.hit(principal.tenant_id)
    request.state.tenant = principal.tenant
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
