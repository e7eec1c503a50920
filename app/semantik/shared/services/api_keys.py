"""API keys: raw secret shown once, SHA-256 stored, revoked by deactivation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from semantik.shared import security
from semantik.shared.errors import (
    AccessDeniedError,
    AuthenticationError,
    EntityAlreadyExistsError,
    EntityNotFoundError,
    ValidationError,
)
from semantik.shared.models import ApiKey, User


def _active_count(session: Session, user: User) -> int:
    now = datetime.now(UTC)
    return (
        session.scalar(
            select(func.count(ApiKey.id)).where(
                ApiKey.user_id == user.id,
                ApiKey.is_active.is_(True),
                (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now),
            )
        )
        or 0
    )


def create(
    session: Session, user: User, *, name: str, expires_in_days: int | None, limit: int, longest: int
) -> tuple[ApiKey, str]:
    """A new key and its raw secret; it lives ``expires_in_days``, or ``longest`` (the most allowed)."""
    if expires_in_days is not None and expires_in_days > longest:
        raise ValidationError(f"expires_in_days must be at most {longest} (API_KEY_MAX_LIFETIME_DAYS)")
    duplicate = session.scalars(
        select(ApiKey).where(ApiKey.user_id == user.id, func.lower(ApiKey.name) == name.lower())
    ).first()
    if duplicate is not None:
        raise EntityAlreadyExistsError("API key", name)
    if _active_count(session, user) >= limit:
        raise ValidationError(f"API key limit reached: at most {limit} active keys per user")
    key_id, raw = security.new_api_key()
    key = ApiKey(
        id=key_id,
        user_id=user.id,
        name=name,
        key_hash=security.sha256(raw),
        expires_at=datetime.now(UTC) + timedelta(days=expires_in_days or longest),
    )
    session.add(key)
    session.flush()
    return key, raw


def list_for(session: Session, user: User) -> list[ApiKey]:
    return list(
        session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at.desc()))
    )


def get_owned(session: Session, user: User, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise EntityNotFoundError("API key", key_id)
    if key.user_id != user.id:
        raise AccessDeniedError("You do not own this API key")
    return key


def set_active(session: Session, user: User, key_id: str, active: bool, limit: int) -> ApiKey:
    key = get_owned(session, user, key_id)
    if active and not key.is_active and _active_count(session, user) >= limit:
        raise ValidationError(f"API key limit reached: at most {limit} active keys per user")
    key.is_active = active
    return key


def user_from_api_key(session: Session, raw: str) -> User:
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == security.sha256(raw))).first()
    now = datetime.now(UTC)
    if (
        key is None
        or not key.is_active
        or (key.expires_at and key.expires_at <= now)
        or not key.user.is_active
    ):
        raise AuthenticationError("Invalid API key")
    key.last_used_at = now
    return key.user
