"""History and user use cases: what the routes, ``persona ingest`` and evals call.

Limits that depend on settings (batch size, text length) are checked here, before
anything is embedded or written, so every caller gets the same all-or-nothing
behaviour and the same field-naming errors.
"""

from __future__ import annotations

from collections.abc import Sequence

from embeddings.history import AddResult
from embeddings.items import check_user_id
from gateway.core.errors import BadInput, PayloadTooLarge
from gateway.schemas.history import (
    MAX_PAGE,
    HistoryAccepted,
    HistoryItemIn,
    HistoryItemOut,
    HistoryPage,
    PreferencesIn,
    PreferencesOut,
)
from gateway.services import Services
from gateway.tables import UserPreferences
from gateway.usecases.common import load_preferences


def check_batch(services: Services, items: Sequence[HistoryItemIn]) -> None:
    s = services.settings
    if len(items) > s.max_batch_items:
        raise PayloadTooLarge(f"items: {len(items)} items in one request; the limit is "
                              f"{s.max_batch_items}, so split the batch", field="items")
    for j, it in enumerate(items):
        for name in ("text", "context"):
            value = getattr(it, name)
            if value is not None and len(value) > s.max_text_chars:
                raise PayloadTooLarge(
                    f"items.{j}.{name}: {len(value)} characters; the limit is "
                    f"{s.max_text_chars}, so shorten it", field=f"items.{j}.{name}")


def ingest_items(*, services: Services, tenant_id: int, user_id: str,
                 items: Sequence[HistoryItemIn]) -> AddResult:
    """Validate then store a batch, all or nothing (the route and the CLI both use this)."""
    check_user_id(user_id)
    if not items:
        raise BadInput("items: send at least one item", field="items")
    check_batch(services, items)
    result = services.history.ingest(tenant_id, user_id, [it.to_item() for it in items])
    services.reply_cache.bump(tenant_id, user_id)  # cached smart replies used the old history
    return result


def add_history(*, services: Services, tenant_id: int, user_id: str,
                items: Sequence[HistoryItemIn]) -> HistoryAccepted:
    result = ingest_items(services=services, tenant_id=tenant_id, user_id=user_id, items=items)
    return HistoryAccepted(accepted=len(result.ids), ids=result.ids)


def export_history(*, services: Services, tenant_id: int, user_id: str, limit: int,
                   cursor: str | None) -> HistoryPage:
    check_user_id(user_id)
    if not 1 <= limit <= MAX_PAGE:
        raise BadInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    items, nxt = services.history.list(tenant_id, user_id, limit=limit, cursor=cursor)
    return HistoryPage(items=[HistoryItemOut(**vars(i)) for i in items], next_cursor=nxt)


def put_preferences(*, services: Services, tenant_id: int, user_id: str,
                    prefs: PreferencesIn) -> PreferencesOut:
    """Replace the user's preferences (PUT semantics: omitted fields take defaults)."""
    check_user_id(user_id)
    signature = services.keys.writer(tenant_id, user_id).seal_text(prefs.signature)
    with services.db.session() as s:
        s.merge(UserPreferences(tenant_id=tenant_id, user_id=user_id,
                                personalization=prefs.personalization, locale=prefs.locale,
                                signature=signature))
    services.reply_cache.bump(tenant_id, user_id)  # cached smart replies used the old ones
    if not prefs.personalization:  # an opt-out stops counting towards k at once
        services.tenant_replies.drop(tenant_id)
        services.reply_cache.bump_tenant(tenant_id)
    return get_preferences(services=services, tenant_id=tenant_id, user_id=user_id)


def get_preferences(*, services: Services, tenant_id: int, user_id: str) -> PreferencesOut:
    """The stored preferences, or the defaults for a user who never set any."""
    check_user_id(user_id)
    p = load_preferences(services, tenant_id, user_id)
    return PreferencesOut(personalization=p.personalization, locale=p.locale,
                          signature=p.signature)
