"""Request-scoped dependencies: settings, database session, the authenticated user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated

from anyio import CancelScope, CapacityLimiter, to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from semantik.shared.config import Settings
from semantik.shared.db import end_session, has_work, new_session
from semantik.shared.errors import AuthenticationError
from semantik.shared.models import User
from semantik.shared.security import looks_like_jwt
from semantik.shared.services import api_keys, auth
from semantik.shared.vecpipe_client import VecpipeClient

_bearer = HTTPBearer(auto_error=False)


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
