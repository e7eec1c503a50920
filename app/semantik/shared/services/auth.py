"""Logins, login sessions and token rotation.

A login starts a session (a "family"): its access tokens carry the family's id, and each refresh
rotates within it. Logging out, or presenting a refresh token that was already used, ends the
whole family: its refresh tokens in the database, its access tokens through AuthState in Redis.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypedDict

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from semantik.shared import security
from semantik.shared.config import Settings
from semantik.shared.errors import AccessDeniedError, AuthenticationError, ValidationError
from semantik.shared.models import RefreshToken, User, new_uuid
from semantik.shared.services import users
from semantik.shared.services.auth_state import AuthState

WRONG_CREDENTIALS = "Incorrect username or password"
REGISTRATION_CLOSED = "Self-registration is closed: an administrator creates accounts"


class _Identity(TypedDict):
    """Who a token names: the same for the access and the refresh token of one issue."""

    user_id: int
    username: str
    family: str


def register(
    session: Session,
    settings: Settings,
    *,
    username: str,
    email: str,
    password: str,
    full_name: str | None = None,
) -> User:
    """Self-registration, where ALLOW_REGISTRATION opens it; never an administrator."""
    if not settings.allow_registration:
        raise AccessDeniedError(REGISTRATION_CLOSED)
    return users.create(
        session, username=username, email=email, password=password, full_name=full_name, is_superuser=False
    )


def issue_tokens(session: Session, settings: Settings, user: User, family: str) -> dict[str, str]:
    secret = settings.jwt_secret_key or ""
    identity: _Identity = {"user_id": user.id, "username": user.username, "family": family}
    access = security.create_token(
        secret, kind="access", ttl=timedelta(minutes=settings.access_token_expire_minutes), **identity
    )
    ttl = timedelta(days=settings.refresh_token_expire_days)
    refresh = security.create_token(secret, kind="refresh", ttl=ttl, **identity)
    session.add(
        RefreshToken(
            user_id=user.id,
            token_hash=security.sha256(refresh),
            family=family,
            expires_at=datetime.now(UTC) + ttl,
        )
    )
    return {"access_token": access, "refresh_token": refresh, "token_type": "bearer"}


def authenticate(
    session: Session, settings: Settings, state: AuthState, username: str, password: str, address: str
) -> User:
    """The active user these credentials name; counted against the login limits before any check."""
    state.count_attempt(username, address)
    user = session.scalars(select(User).where(User.username == username)).first()
    # An unknown name costs one hash, as a known one does: the answer's timing names nobody.
    if user is None:
        security.verify_unknown_user(password)
        raise AuthenticationError(WRONG_CREDENTIALS)
    if not security.verify_password(password, user.hashed_password):
        raise AuthenticationError(WRONG_CREDENTIALS)
    if not user.is_active:
        raise AuthenticationError("Inactive user")
    state.attempt_succeeded(username, address)
    user.last_login = datetime.now(UTC)
    return user


def login(
    session: Session, settings: Settings, state: AuthState, username: str, password: str, address: str
) -> dict[str, str]:
    user = authenticate(session, settings, state, username, password, address)
    return issue_tokens(session, settings, user, new_uuid())


def start_web_session(
    session: Session, settings: Settings, state: AuthState, username: str, password: str, address: str
) -> str:
    """A browser's sign-in: a session token for an HttpOnly cookie, a login session of its own.

    Its record sits with the refresh tokens (never usable as one: its type differs), so ending
    every session of a user (deactivation, a logout with an API key) ends this one too.
    """
    user = authenticate(session, settings, state, username, password, address)
    family, ttl = new_uuid(), timedelta(hours=settings.web_session_hours)
    token = security.create_token(
        settings.jwt_secret_key or "",
        kind="session",
        ttl=ttl,
        user_id=user.id,
        username=user.username,
        family=family,
    )
    session.add(
        RefreshToken(
            user_id=user.id,
            token_hash=security.sha256(token),
            family=family,
            expires_at=datetime.now(UTC) + ttl,
        )
    )
    return token


def _end_family(session: Session, state: AuthState, family: str) -> None:
    session.execute(update(RefreshToken).where(RefreshToken.family == family).values(is_revoked=True))
    state.revoke(family)


def refresh(
    session: Session, settings: Settings, state: AuthState, refresh_token: str | None
) -> dict[str, str]:
    """Rotate: the presented refresh token is spent and a new pair of the same session is issued."""
    if not refresh_token:
        raise ValidationError("refresh_token is required")
    claims = security.decode_token(settings.jwt_secret_key or "", refresh_token, "refresh")
    stored = session.scalars(
        select(RefreshToken)
        .where(RefreshToken.token_hash == security.sha256(refresh_token))
        .with_for_update()
    ).first()
    if claims is None or stored is None or stored.expires_at < datetime.now(UTC):
        raise AuthenticationError("Invalid refresh token")
    if stored.is_revoked:
        # Spent before: a stolen copy or a replay. End the whole session, and keep that on error.
        if stored.family:
            _end_family(session, state, stored.family)
            session.commit()
        raise AuthenticationError("Invalid refresh token")
    user = session.get(User, stored.user_id)
    if user is None or not user.is_active:
        raise AuthenticationError("Invalid refresh token")
    stored.is_revoked = True
    return issue_tokens(session, settings, user, stored.family or new_uuid())


def logout(
    session: Session, state: AuthState, user: User, family: str | None, refresh_token: str | None
) -> None:
    """End the session of the access token (``family``) and of the refresh token given, if any.

    With neither (an API key and no refresh token), every session of the user ends.
    """
    families = {family} if family else set()
    if refresh_token:
        stored = session.scalars(
            select(RefreshToken).where(
                RefreshToken.token_hash == security.sha256(refresh_token), RefreshToken.user_id == user.id
            )
        ).first()
        if stored is not None and stored.family:
            families.add(stored.family)
    if not families:
        users.end_sessions(session, user, state)
    for name in families:
        _end_family(session, state, name)


def user_from_access_token(
    session: Session, settings: Settings, state: AuthState, token: str, kind: str = "access"
) -> tuple[User, str]:
    """The token's active user and its session (family); AuthenticationError otherwise.

    ``kind="session"`` checks a web page's session token the same way.
    """
    claims = security.decode_token(settings.jwt_secret_key or "", token, kind)
    family = claims.get("fam") if claims else None
    if claims is None or not family or state.is_revoked(family):
        raise AuthenticationError("Invalid authentication credentials")
    user = session.get(User, claims["user_id"])
    if user is None or user.username != claims["sub"]:
        raise AuthenticationError("Invalid authentication credentials")
    if not user.is_active:
        raise AuthenticationError("Inactive user")
    return user, family
