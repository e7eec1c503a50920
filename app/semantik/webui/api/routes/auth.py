from __future__ import annotations

from fastapi import APIRouter, Body, Request

from semantik.shared.errors import ValidationError
from semantik.shared.services import auth
from semantik.webui.api.deps import AuthStateDep, ClientAddress, CurrentUser, SessionDep, SettingsDep
from semantik.webui.schemas import LoginIn, MessageOut, RefreshIn, RegisterIn, TokenOut, UserOut

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register", response_model=UserOut)
def register(body: RegisterIn, session: SessionDep, settings: SettingsDep) -> object:
    return auth.register(session, settings, **body.model_dump())


@router.post("/login", response_model=TokenOut)
def login(
    body: LoginIn, session: SessionDep, settings: SettingsDep, state: AuthStateDep, address: ClientAddress
) -> object:
    return auth.login(session, settings, state, body.username, body.password, address)


@router.post("/refresh", response_model=TokenOut)
def refresh(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    state: AuthStateDep,
    body: RefreshIn | None = Body(None),
) -> object:
    # URLs end up in access logs, proxies and browser history: a refresh token there is leaked.
    if "refresh_token" in request.query_params:
        raise ValidationError("refresh_token is not accepted in the query string; send it in the JSON body")
    return auth.refresh(session, settings, state, body.refresh_token if body else None)


@router.post("/logout", response_model=MessageOut)
def logout(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    state: AuthStateDep,
    body: RefreshIn | None = Body(None),
) -> object:
    family = getattr(request.state, "token_family", None)
    auth.logout(session, state, user, family, body.refresh_token if body else None)
    return {"message": "Successfully logged out"}


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> object:
    return user
