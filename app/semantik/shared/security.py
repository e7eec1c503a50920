"""Passwords (argon2 via pwdlib), JWTs (HS256) and API keys (``smtk_<8 hex of id>_<secret>``)."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

import jwt
from pwdlib import PasswordHash

from semantik.shared.errors import ServiceUnavailableError

_passwords = PasswordHash.recommended()
ALGORITHM = "HS256"
API_KEY_PREFIX = "smtk_"
T = TypeVar("T")
# How long a login waits for a free hashing slot before it is told to come back.
HASH_SLOT_WAIT_SECONDS = 10.0

# argon2 takes ~64 MiB and tens of milliseconds per hash: a login flood must queue for a few slots,
# not hash in every thread of the pool at once (set_hash_concurrency sizes it from the settings).
_hash_slots = threading.BoundedSemaphore(2)


def set_hash_concurrency(slots: int) -> None:
    global _hash_slots
    _hash_slots = threading.BoundedSemaphore(slots)


def _hashing(work: Callable[..., T], *args: str) -> T:
    slots = _hash_slots
    if not slots.acquire(timeout=HASH_SLOT_WAIT_SECONDS):
        raise ServiceUnavailableError("Too many logins at once; try again in a few seconds")
    try:
        return work(*args)
    finally:
        slots.release()


def hash_password(password: str) -> str:
    return _hashing(_passwords.hash, password)


def verify_password(password: str, hashed: str) -> bool:
    return _hashing(_passwords.verify, password, hashed)


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return _passwords.hash(secrets.token_urlsafe(16))


def verify_unknown_user(password: str) -> bool:
    """Spend what checking a real user's password costs, so timing does not tell who exists."""
    verify_password(password, _decoy_hash())
    return False


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def create_token(
    secret: str, *, user_id: int, username: str, kind: str, ttl: timedelta, family: str | None = None
) -> str:
    """A signed token; ``family`` names the login session it belongs to (revoked as a whole)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"sub": username, "user_id": user_id, "type": kind, "iat": now, "exp": now + ttl}
    if family:
        claims["fam"] = family
    if kind == "refresh":
        claims["jti"] = secrets.token_urlsafe(24)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(secret: str, token: str, kind: str) -> dict[str, Any] | None:
    """The claims of a valid, unexpired token of this kind, else None."""
    try:
        claims = _verified_claims(secret, token)
    except jwt.PyJWTError:
        return None
    if int(claims["exp"]) <= time.time():  # expired since it was verified: PyJWT's own test, per use
        return None
    return dict(claims) if claims.get("type") == kind else None


@lru_cache(maxsize=4096)
def _verified_claims(secret: str, token: str) -> dict[str, Any]:
    """The claims of a token whose signature, format and times check out; raises when they do not.

    Verifying a token costs about 0.2 ms here, on every authenticated request. A token string that
    verified once with a secret always verifies again, and of its times only the expiry can lapse, so
    decode_token checks that on each use. Failures raise, and lru_cache keeps no exceptions: only
    tokens that verified are remembered.
    """
    return jwt.decode(
        token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "type", "user_id"]}
    )


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def new_api_key() -> tuple[str, str]:
    """A fresh (key id, raw key); only the raw key's SHA-256 is stored."""
    key_id = str(uuid.uuid4())
    return key_id, f"{API_KEY_PREFIX}{key_id.replace('-', '')[:8]}_{secrets.token_urlsafe(32)}"
