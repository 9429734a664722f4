"""Envelope encryption: master keys from settings wrap one data key per user.

Every text a user's data holds (history items and their vectors, generations,
explanations, feedback, the reply cache) is sealed with that user's data key
(AES-256-GCM, a fresh 96-bit nonce per value). Data keys are stored wrapped (sealed
with a master key) in ``user_keys`` (``gateway.core.keyring``); master keys never
touch the database. Forgetting a user destroys their data key: whatever bytes of
theirs MVCC, a WAL or a backup still holds can no longer be read.

A sealed value is ``MAGIC | key id (8 bytes) | nonce (12) | ciphertext + tag (16)``:
the key id names the data key it was sealed with, so a value sealed under a key that
has since been destroyed (or replaced) is recognised instead of failing obscurely.
Text columns hold it base64-encoded after ``TEXT_PREFIX``; JSON columns hold that
string. A value without the marker is plaintext from before encryption (an upgraded
store, until ``gateway.storage.seal_plaintext`` has run) and is read as it is.

Master keys come from ``PERSONA_MASTER_KEYS`` (``id:base64url`` of 32 bytes, comma
separated, the first wraps new keys); without it the embedded default keeps one in
``<data_dir>/master.key`` (mode 0600), made on first start; PostgreSQL requires it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.core.errors import ConfigError, GatewayError

MAGIC = b"PGE1"
TEXT_PREFIX = "enc1:"
_KEY_ID = struct.Struct(">Q")
_NONCE = 12
_HEADER = len(MAGIC) + _KEY_ID.size
MASTER_KEY_FILE = "master.key"
_KEY_NAME = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
HOW_TO_SET = ("set PERSONA_MASTER_KEYS=<id>:<32 random bytes, base64url>; "
              "`persona keys master-new` prints a fresh one (keep it outside the database, "
              "e.g. in your secret store)")


class KeyDestroyed(GatewayError):
    """A value was sealed under a data key that no longer exists (its user was forgotten)."""

    status_code = 410
    type = "gone"


class WrongMasterKey(ConfigError):
    pass


def new_master_key(key_id: str) -> str:
    return f"{key_id}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}"


@dataclass(frozen=True)
class MasterKeys:
    """Master keys by id; ``active`` wraps new data keys, the others only unwrap."""

    active: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, spec: str, *, source: str = "PERSONA_MASTER_KEYS") -> MasterKeys:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in (p.strip() for p in spec.replace("\n", ",").split(",")):
            if not part:
                continue
            kid, sep, b64 = part.partition(":")
            try:
                raw = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)) if sep else b""
            except (binascii.Error, ValueError):
                raw = b""
            if not _KEY_NAME.fullmatch(kid) or len(raw) != 32:
                raise ConfigError(f"{source}: entry {kid[:32]!r}… is not <id>:<base64url of "
                                  f"32 bytes> (id: letters, digits . _ -); {HOW_TO_SET}")
            if kid in keys:
                raise ConfigError(f"{source}: master key id {kid!r} is listed twice")
            keys[kid] = raw
            order.append(kid)
        if not order:
            raise ConfigError(f"{source} holds no key; {HOW_TO_SET}")
        return cls(order[0], keys)

    @classmethod
    def load(cls, spec: str | None, *, data_dir: Path, embedded: bool) -> MasterKeys:
        """From the setting; else (embedded SQLite only) the data dir's key file,
        created with mode 0600 on first start; PostgreSQL without the setting refuses."""
        if spec and spec.strip():
            return cls.parse(spec)
        if not embedded:
            raise ConfigError("PERSONA_MASTER_KEYS is not set: on PostgreSQL the master key "
                              "must come from the deployment, not from one replica's data "
                              f"dir; {HOW_TO_SET}, the same on every replica")
        path = data_dir / MASTER_KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it meanwhile
                pass
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(new_master_key("local1") + "\n")
                    f.flush()
                    os.fsync(f.fileno())
        return cls.parse(path.read_text(), source=str(path))

    def wrap(self, raw: bytes, aad: bytes) -> tuple[str, bytes]:
        nonce = secrets.token_bytes(_NONCE)
        return self.active, nonce + AESGCM(self.keys[self.active]).encrypt(nonce, raw, aad)

    def unwrap(self, master_id: str, wrapped: bytes, aad: bytes) -> bytes:
        key = self.keys.get(master_id)
        if key is None:
            raise WrongMasterKey(
                f"data keys are wrapped under master key {master_id!r}, which the configured "
                f"master keys ({', '.join(self.keys)}) do not hold: add it back to "
                "PERSONA_MASTER_KEYS (after the new one) and keep it until "
                "`persona keys rotate` has re-wrapped every data key")
        try:
            return AESGCM(key).decrypt(wrapped[:_NONCE], wrapped[_NONCE:], aad)
        except InvalidTag:
            raise WrongMasterKey(
                f"master key {master_id!r} does not unwrap the data keys stored under that "
                "id: PERSONA_MASTER_KEYS (or the data dir's master.key) holds a different key "
                f"than the one they were wrapped with; set the original key for {master_id!r}"
            ) from None


class DataKey:
    """One user's data key: seals and opens bytes, text and JSON values."""

    __slots__ = ("_aead", "_header", "key_id")

    def __init__(self, key_id: int, raw: bytes):
        self.key_id = key_id
        self._aead = AESGCM(raw)
        self._header = MAGIC + _KEY_ID.pack(key_id)

    def seal(self, data: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return self._header + nonce + self._aead.encrypt(nonce, data, None)

    def open(self, token: bytes) -> bytes:
        try:
            return self._aead.decrypt(token[_HEADER:_HEADER + _NONCE],
                                      token[_HEADER + _NONCE:], None)
        except InvalidTag:
            raise GatewayError("a stored value failed its integrity check (corrupted or "
                               "tampered with); restore it from a backup") from None

    def seal_text(self, text: str | None) -> str | None:
        if text is None:
            return None
        return TEXT_PREFIX + base64.b64encode(self.seal(text.encode())).decode()

    def seal_json(self, value) -> str:
        return self.seal_text(json.dumps(value, separators=(",", ":")))


def sealed_key_id(token: bytes | str | None) -> int | None:
    """The data key id a sealed value names; None for plaintext (or None)."""
    if isinstance(token, str):
        if not token.startswith(TEXT_PREFIX):
            return None
        token = text_token(token)
    if not isinstance(token, bytes | bytearray | memoryview) or bytes(token[:4]) != MAGIC:
        return None
    return _KEY_ID.unpack(bytes(token[4:_HEADER]))[0]


def text_token(text: str) -> bytes:
    return base64.b64decode(text[len(TEXT_PREFIX):])
