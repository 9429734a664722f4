"""User routes: forget a user (admin key), read and set preferences (any key)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gateway.deps import AdminDep, PrincipalDep, ReadyServicesDep, ServicesDep
from gateway.routes.history import UserId
from gateway.schemas.history import PreferencesIn, PreferencesOut
from gateway.usecases.forget import forget_user
from gateway.usecases.history import get_preferences, put_preferences

router = APIRouter(tags=["users"])


@router.delete("/users/{user_id}", status_code=204, response_class=Response,
               summary="Forget a user: history, vectors, feedback, generations, preferences "
                       "(admin key)")
def delete_user(user_id: UserId, principal: AdminDep, services: ReadyServicesDep) -> Response:
    """Idempotent: deleting an unknown user is also a 204."""
    forget_user(services=services, tenant_id=principal.tenant_id, user_id=user_id)
    return Response(status_code=204)


@router.put("/users/{user_id}/preferences", response_model=PreferencesOut,
            summary="Set a user's preferences (any key)")
def set_preferences(user_id: UserId, body: PreferencesIn, principal: PrincipalDep,
                    services: ServicesDep) -> PreferencesOut:
    """Replaces all preferences (omitted fields take their defaults). With
    ``personalization`` false, no history is read for this user."""
    return put_preferences(services=services, tenant_id=principal.tenant_id, user_id=user_id,
                           prefs=body)


@router.get("/users/{user_id}/preferences", response_model=PreferencesOut,
            summary="Read a user's preferences (any key; defaults if never set)")
def read_preferences(user_id: UserId, principal: PrincipalDep,
                     services: ServicesDep) -> PreferencesOut:
    return get_preferences(services=services, tenant_id=principal.tenant_id, user_id=user_id)
