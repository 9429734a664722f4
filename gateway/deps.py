"""FastAPI dependencies: the services container and the calling tenant."""

from __future__ import annotations

import secrets
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from gateway.auth import Principal, authenticate
from gateway.core.errors import GatewayError, NotReady, Unauthorized
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


# /metrics and the details of /readyz: the operator's token (settings.metrics_token).
# Read from the header, not declared as a security scheme: both routes answer
# anonymous callers too (with less), and the schema should say so.
def operator_authorization(request: Request) -> str | None:
    return request.headers.get("authorization")


MetricsAuthorization = Annotated[str | None, Depends(operator_authorization)]


def matches_metrics_token(services: Services, authorization: str | None) -> bool:
    token = services.settings.metrics_token
    scheme, _, given = (authorization or "").partition(" ")
    return (token is not None and scheme.lower() == "bearer"
            and secrets.compare_digest(given.strip().encode(), token.get_secret_value().encode()))


def require_metrics_access(
    services: ServicesDep,
    authorization: MetricsAuthorization,
) -> None:
    """Open when no metrics token is set; otherwise the token must be sent."""
    if services.settings.metrics_token is None or matches_metrics_token(services, authorization):
        return
    raise Unauthorized("/metrics needs 'Authorization: Bearer <token>' with the token set in "
                       "PERSONA_METRICS_TOKEN")


def is_operator(services: Services, authorization: str | None) -> bool:
    """The caller sent the metrics token or an admin API key (never raises: anonymous
    callers just see less). Call it once the store is open."""
    if not authorization:
        return False
    if matches_metrics_token(services, authorization):
        return True
    try:
        return authenticate(services.db, authorization).scope == "admin"
    except GatewayError:
        return False

def get_arrival(request: Request) -> float:
    """When the request arrived (``time.monotonic()``), recorded first thing by the app's
    middleware; deadlines count from it."""
    arrived = getattr(request.state, "arrived", None)
    return arrived if arrived is not None else time.monotonic()


ArrivalDep = Annotated[float, Depends(get_arrival)]
