"""History routes: add items (client or admin key), export them (admin key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from embeddings.items import USER_ID_PATTERN
from gateway.deps import AdminDep, PrincipalDep, ReadyServicesDep, ServicesDep
from gateway.schemas.common import ErrorBody
from gateway.schemas.history import HistoryAccepted, HistoryBatchIn, HistoryPage, HistoryQuery
from gateway.usecases.history import add_history, export_history

router = APIRouter(tags=["history"])

UserId = Annotated[str, Path(pattern=USER_ID_PATTERN, description="The tenant's user id.")]


@router.post("/users/{user_id}/history", response_model=HistoryAccepted,
             summary="Add history items (idempotent on id; any key)",
             responses={409: {"model": ErrorBody,
                              "description": "an id is already stored with different content"},
                        413: {"model": ErrorBody,
                              "description": "too many items or a text over the limit"}})
def post_history(user_id: UserId, body: HistoryBatchIn, principal: PrincipalDep,
                 services: ReadyServicesDep) -> HistoryAccepted:
    """Store the batch all or nothing. A 2xx means every item is committed and
    retrievable; re-sending an id with the same content is a no-op."""
    return add_history(services=services, tenant_id=principal.tenant_id, user_id=user_id,
                       items=body.items)


@router.get("/users/{user_id}/history", response_model=HistoryPage,
            summary="Export a user's history, oldest first (admin key)")
def get_history(user_id: UserId, principal: AdminDep, services: ServicesDep,
                query: Annotated[HistoryQuery, Query()]) -> HistoryPage:
    """Pages of up to ``limit`` items; pass ``next_cursor`` back as ``cursor`` until it
    is null."""
    return export_history(services=services, tenant_id=principal.tenant_id, user_id=user_id,
                          limit=query.limit, cursor=query.cursor)
