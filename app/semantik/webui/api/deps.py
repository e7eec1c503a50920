"""Request-scoped dependencies: settings, database session, the authenticated user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated

from anyio import CancelScope, CapacityLimiter, to_thread
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from semantik.shared.config import Settings
from semantik.shared.db import end_session, has_work, new_session
from semantik.shared.errors import AccessDeniedError, AuthenticationError
from semantik.shared.models import User
from semantik.shared.security import looks_like_jwt
from semantik.shared.services import api_keys, auth
from semantik.shared.services.auth_state import AuthState
from semantik.shared.vecpipe_client import VecpipeClient

_bearer = HTTPBearer(auto_error=False)

# The query parameters the list routes share.
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
PerPage = Annotated[int, Query(ge=1, le=100)]
OperationStatuses = Annotated[str | None, Query(max_length=200, description="statuses, comma-separated")]
OperationTypeFilter = Annotated[str | None, Query(max_length=32)]


# The two getters below only read app.state: async, so FastAPI calls them on the event loop instead
# of sending each to the threadpool and back (a thread hop per dependency, per request).
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_session() -> AsyncIterator[Session]:
    """A session for the request: committed when the route succeeds, rolled back when it raises.

    Created on the event loop (no I/O until first use). Ending it goes to a worker thread only when
    there is database work left: a route that committed in its own thread ends with no thread hop.
    """
    session = new_session()
    try:
        yield session
    except BaseException:
        await _end(session, commit=False)
        raise
    await _end(session, commit=True)


async def _end(session: Session, *, commit: bool) -> None:
    if not has_work(session):
        session.close()  # nothing to commit or roll back: clears the session in memory
        return
    # A fresh limiter, as FastAPI uses for the exit of sync dependencies: ending a session returns
    # its connection to the pool, so it must never wait behind requests waiting for a connection.
    with CancelScope(shield=True):
        await to_thread.run_sync(partial(end_session, session, commit=commit), limiter=CapacityLimiter(1))


async def get_vecpipe(request: Request) -> VecpipeClient:
    return request.app.state.vecpipe


async def get_auth_state(request: Request) -> AuthState:
    return request.app.state.auth_state


async def client_address(request: Request) -> str:
    """The client's address: the peer's, or the one a trusted proxy (WEBUI_FORWARDED_ALLOW_IPS) names."""
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[Settings, Depends(get_settings)]
# Commit before the response leaves, so a client never reads behind its own write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
VecpipeDep = Annotated[VecpipeClient, Depends(get_vecpipe)]
AuthStateDep = Annotated[AuthState, Depends(get_auth_state)]
ClientAddress = Annotated[str, Depends(client_address)]


def current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    state: AuthStateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """A JWT (exactly two dots) or an API key, both as `Authorization: Bearer ...`.

    The access token's login session is left in ``request.state.token_family`` for logout.
    """
    if credentials is None or not credentials.credentials:
        raise AuthenticationError("Not authenticated")
    token = credentials.credentials
    if looks_like_jwt(token):
        user, request.state.token_family = auth.user_from_access_token(session, settings, state, token)
        return user
    return api_keys.user_from_api_key(session, token)


CurrentUser = Annotated[User, Depends(current_user)]


def current_superuser(user: CurrentUser) -> User:
    if not user.is_superuser:
        raise AccessDeniedError("Only an administrator can do this")
    return user


CurrentSuperuser = Annotated[User, Depends(current_superuser)]
