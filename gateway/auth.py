"""API keys: created once, shown once, stored as SHA-256 hashes.

Keys are 256-bit random tokens, so a plain SHA-256 is the right hash (a slow
password hash would only add latency to every request).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.core.db import SQLITE_MAX_INT, Database, utcnow
from gateway.core.errors import BadInput, Forbidden, NotFound, Unauthorized
from gateway.tables import ApiKey, Tenant

SCOPES = ("client", "admin")
KEY_PREFIX = "pk_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant the key belongs to and what it may do."""

    tenant_id: int
    tenant: str
    scope: str
    key_id: int

    def require(self, scope: str) -> None:
        if scope == "admin" and self.scope != "admin":
            raise Forbidden(
                "this API key has scope 'client'; this route needs an 'admin' key "
                "(create one with 'persona keys create --tenant NAME --scope admin')"
            )


@dataclass(frozen=True)
class KeyInfo:
    id: int
    tenant: str
    prefix: str
    scope: str
    created_at: datetime
    revoked: bool


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def get_or_create_tenant(db: Database, name: str) -> int:
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
        raise BadInput("tenant name must be 1-64 letters, digits, '-' or '_'", field="tenant")
    try:
        with db.session() as s:
            tenant = s.scalar(select(Tenant).where(Tenant.name == name))
            if tenant is None:
                tenant = Tenant(name=name)
                s.add(tenant)
                s.flush()
            return tenant.id
    except IntegrityError:
        # Another process made it between our read and our insert (replicas starting
        # together on an empty database both create "default"): theirs is the tenant.
        with db.session() as s:
            found = s.scalar(select(Tenant.id).where(Tenant.name == name))
        if found is None:
            raise
        return found


def create_key(db: Database, *, tenant: str, scope: str = "client") -> str:
    """Create a key for ``tenant`` (made if new) and return it; only its hash is kept."""
    if scope not in SCOPES:
        raise BadInput(f"scope must be one of {', '.join(SCOPES)}", field="scope")
    tenant_id = get_or_create_tenant(db, tenant)
    with db.session() as s:
        return _add_key(s, tenant_id, scope)


def _add_key(s, tenant_id: int, scope: str) -> str:
    """A new key of ``scope`` for the tenant, added to session ``s``; only its hash is kept."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    s.add(ApiKey(tenant_id=tenant_id, key_hash=hash_key(key), prefix=key[:10], scope=scope))
    return key


def _any_key(s) -> bool:
    return s.scalar(select(ApiKey.id).limit(1)) is not None


def create_first_admin_key(db: Database, *, tenant: str = "default") -> str | None:
    """An admin key for a gateway that has no key yet, or None when it has one.

    Replicas starting together on an empty database all ask; one makes it. The check
    and the insert run under a lock on the tenant's row (PostgreSQL ``SELECT ... FOR
    UPDATE``), so the others wait for it and then see its key. SQLite is one process.
    """
    if has_any_key(db):  # every start but the first: no tenant is made
        return None
    tenant_id = get_or_create_tenant(db, tenant)
    with db.session() as s:
        s.scalar(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())
        return None if _any_key(s) else _add_key(s, tenant_id, "admin")


def list_keys(db: Database) -> list[KeyInfo]:
    with db.session() as s:
        rows = s.execute(
            select(ApiKey, Tenant.name).join(Tenant, Tenant.id == ApiKey.tenant_id).order_by(ApiKey.id)
        ).all()
        return [
            KeyInfo(k.id, name, k.prefix, k.scope, k.created_at, k.revoked_at is not None)
            for k, name in rows
        ]


def revoke_key(db: Database, key_id: int) -> None:
    with db.session() as s:
        # An id SQLite cannot hold names no key (and would overflow the query).
        key = s.get(ApiKey, key_id) if 0 < key_id <= SQLITE_MAX_INT else None
        if key is None:
            raise NotFound(f"no API key with id {key_id}; see 'persona keys list'")
        key.revoked_at = key.revoked_at or utcnow()


def has_any_key(db: Database) -> bool:
    with db.session() as s:
        return _any_key(s)


def authenticate(db: Database, authorization: str | None) -> Principal:
    if not authorization:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <api key>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("malformed Authorization header: use 'Authorization: Bearer <api key>'")
    with db.session() as s:
        row = s.execute(
            select(ApiKey, Tenant.name)
            .join(Tenant, Tenant.id == ApiKey.tenant_id)
            .where(ApiKey.key_hash == hash_key(token.strip()))
        ).first()
    if row is None or row[0].revoked_at is not None:
        raise Unauthorized("unknown or revoked API key; create one with 'persona keys create'")
    key, tenant = row
    return Principal(tenant_id=key.tenant_id, tenant=tenant, scope=key.scope, key_id=key.id)
