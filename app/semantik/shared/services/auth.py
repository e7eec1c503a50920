"""Users, logins and token rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from semantik.shared import security
from semantik.shared.config import Settings
from semantik.shared.errors import AuthenticationError, EntityAlreadyExistsError, ValidationError
from semantik.shared.models import RefreshToken, User


def register(
    session: Session,
    *,
    username: str,
    email: str,
    password: str,
    full_name: str | None = None,
    is_superuser: bool | None = None,
) -> User:
    """Create a user; the first user of an installation becomes its superuser."""
    taken = session.scalars(
        select(User).where(
            or_(func.lower(User.username) == username.lower(), func.lower(User.email) == email.lower())
        )
    ).first()
    if taken is not None:
        field = "username" if taken.username.lower() == username.lower() else "email"
        raise EntityAlreadyExistsError("User", username if field == "username" else email)
    if is_superuser is None:
        is_superuser = session.scalar(select(func.count(User.id))) == 0
    user = User(
        username=username,
        email=email,
        full_name=full_name,
        hashed_password=security.hash_password(password),
        is_superuser=is_superuser,
    )
    session.add(user)
    session.flush()
    return user


def issue_tokens(session: Session, settings: Settings, user: User) -> dict[str, str]:
    secret = settings.jwt_secret_key or ""
    access = security.create_token(
        secret,
        user_id=user.id,
        username=user.username,
        kind="access",
        ttl=timedelta(minutes=settings.access_token_expire_minutes),
    )
    ttl = timedelta(days=settings.refresh_token_expire_days)
    refresh = security.create_token(secret, user_id=user.id, username=user.username, kind="refresh", ttl=ttl)
    session.add(
        RefreshToken(user_id=user.id, token_hash=security.sha256(refresh), expires_at=datetime.now(UTC) + ttl)
    )
    return {"access_token": access, "refresh_token": refresh, "token_type": "bearer"}


def login(session: Session, settings: Settings, username: str, password: str) -> dict[str, str]:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not security.verify_password(password, user.hashed_password):
        raise AuthenticationError("Incorrect username or password")
    if not user.is_active:
        raise AuthenticationError("Inactive user")
    user.last_login = datetime.now(UTC)
    return issue_tokens(session, settings, user)


def refresh(session: Session, settings: Settings, refresh_token: str | None) -> dict[str, str]:
    """Rotate: the presented refresh token is revoked and a new pair is issued."""
    if not refresh_token:
        raise ValidationError("refresh_token is required")
    claims = security.decode_token(settings.jwt_secret_key or "", refresh_token, "refresh")
    stored = session.scalars(
        select(RefreshToken)
        .where(RefreshToken.token_hash == security.sha256(refresh_token))
        .with_for_update()
    ).first()
    if claims is None or stored is None or stored.is_revoked or stored.expires_at < datetime.now(UTC):
        raise AuthenticationError("Invalid refresh token")
    user = session.get(User, stored.user_id)
    if user is None or not user.is_active:
        raise AuthenticationError("Invalid refresh token")
    stored.is_revoked = True
    return issue_tokens(session, settings, user)


def logout(session: Session, user: User, refresh_token: str | None) -> None:
    """Revoke the given refresh token, or every one of the user's when none is given."""
    query = update(RefreshToken).where(RefreshToken.user_id == user.id).values(is_revoked=True)
    if refresh_token:
        query = query.where(RefreshToken.token_hash == security.sha256(refresh_token))
    session.execute(query)


def user_from_access_token(session: Session, settings: Settings, token: str) -> User:
    claims = security.decode_token(settings.jwt_secret_key or "", token, "access")
    user = session.get(User, claims["user_id"]) if claims else None
    if user is None or user.username != claims["sub"]:
        raise AuthenticationError("Invalid authentication credentials")
    if not user.is_active:
        raise AuthenticationError("Inactive user")
    return user
