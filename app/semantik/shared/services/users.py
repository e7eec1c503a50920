"""Accounts, as administrators manage them: create, list, deactivate, grant source roots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from semantik.shared import security
from semantik.shared.errors import (
    AccessDeniedError,
    EntityAlreadyExistsError,
    EntityNotFoundError,
    ValidationError,
)
from semantik.shared.models import RefreshToken, User
from semantik.shared.services.auth_state import AuthState
from semantik.shared.services.paths import resolve_source_path

SOURCES_NEED_ADMIN = (
    "Adding a directory source reads files on the server: only an administrator can, or a user "
    "an administrator granted a source root to"
)


def find(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(func.lower(User.username) == username.lower())).first()


def create(
    session: Session,
    *,
    username: str,
    email: str,
    password: str,
    full_name: str | None = None,
    is_superuser: bool = False,
) -> User:
    taken = session.scalars(
        select(User).where(
            or_(func.lower(User.username) == username.lower(), func.lower(User.email) == email.lower())
        )
    ).first()
    if taken is not None:
        same_name = taken.username.lower() == username.lower()
        raise EntityAlreadyExistsError("User", username if same_name else email)
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


def get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise EntityNotFoundError("User", user_id)
    return user


def page(session: Session, *, page: int, per_page: int) -> tuple[list[User], int]:
    total = session.scalar(select(func.count(User.id))) or 0
    rows = session.scalars(select(User).order_by(User.id).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def end_sessions(session: Session, user: User, state: AuthState | None) -> None:
    """Revoke every refresh token of the user and, where Redis is at hand, their access tokens' families."""
    families = session.scalars(
        select(RefreshToken.family).where(
            RefreshToken.user_id == user.id,
            RefreshToken.is_revoked.is_(False),
            RefreshToken.family.is_not(None),
        )
    ).all()
    session.execute(update(RefreshToken).where(RefreshToken.user_id == user.id).values(is_revoked=True))
    if state is not None:
        for family in set(families):
            if family is not None:  # the query leaves out NULL already; this tells the type checker
                state.revoke(family)


def change(
    session: Session,
    admin: User,
    user_id: int,
    fields: dict[str, Any],
    *,
    allowed_roots: list[Path],
    state: AuthState | None,
) -> User:
    """Apply an administrator's change; a deactivated user loses every session at once."""
    user = get(session, user_id)
    if user.id == admin.id and (fields.get("is_active") is False or fields.get("is_superuser") is False):
        raise ValidationError("An administrator cannot deactivate or demote their own account")
    if fields.get("source_roots") is not None:
        user.source_roots = [str(resolve_source_path(root, allowed_roots)) for root in fields["source_roots"]]
    for name in ("is_active", "is_superuser"):
        if fields.get(name) is not None:
            setattr(user, name, fields[name])
    if not user.is_active:
        end_sessions(session, user, state)
    return user


def source_roots_for(user: User, allowed_roots: list[Path]) -> list[Path]:
    """The roots this user may add directory sources under; AccessDeniedError when none."""
    if user.is_superuser:
        return allowed_roots
    granted = [Path(root) for root in user.source_roots or []]
    usable = [root for root in granted if any(root.is_relative_to(allowed) for allowed in allowed_roots)]
    if not usable:
        raise AccessDeniedError(SOURCES_NEED_ADMIN)
    return usable
