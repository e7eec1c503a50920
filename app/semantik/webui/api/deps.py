"""Request-scoped dependencies: settings, database session, the authenticated user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from semantik.shared.config import Settings
from semantik.shared.db import session_scope
from semantik.shared.errors import AuthenticationError
from semantik.shared.models import User
from semantik.shared.security import looks_like_jwt
from semantik.shared.services import api_keys, auth
from semantik.shared.vecpipe_client import VecpipeClient

_bearer = HTTPBearer(auto_error=False)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


def get_vecpipe(request: Request) -> VecpipeClient:
    return request.app.state.vecpipe


SettingsDep = Annotated[Settings, Depends(get_settings)]
# Commit before the response leaves, so a client never reads behind its own write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
VecpipeDep = Annotated[VecpipeClient, Depends(get_vecpipe)]


def current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """A JWT (exactly two dots) or an API key, both as `Authorization: Bearer ...`."""
    if credentials is None or not credentials.credentials:
        raise AuthenticationError("Not authenticated")
    token = credentials.credentials
    if looks_like_jwt(token):
        return auth.user_from_access_token(session, settings, token)
    return api_keys.user_from_api_key(session, token)


CurrentUser = Annotated[User, Depends(current_user)]
