from __future__ import annotations

from fastapi import APIRouter, Body, Query

from semantik.shared.services import auth
from semantik.webui.api.deps import CurrentUser, SessionDep, SettingsDep
from semantik.webui.schemas import LoginIn, MessageOut, RefreshIn, RegisterIn, TokenOut, UserOut

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register", response_model=UserOut)
def register(body: RegisterIn, session: SessionDep) -> object:
    return auth.register(
        session, username=body.username, email=body.email, password=body.password, full_name=body.full_name
    )


@router.post("/login", response_model=TokenOut)
def login(body: LoginIn, session: SessionDep, settings: SettingsDep) -> object:
    return auth.login(session, settings, body.username, body.password)


@router.post("/refresh", response_model=TokenOut)
def refresh(
    session: SessionDep,
    settings: SettingsDep,
    body: RefreshIn | None = Body(None),
    refresh_token: str | None = Query(None, max_length=4096),
) -> object:
    return auth.refresh(session, settings, (body.refresh_token if body else None) or refresh_token)


@router.post("/logout", response_model=MessageOut)
def logout(user: CurrentUser, session: SessionDep, body: RefreshIn | None = Body(None)) -> object:
    auth.logout(session, user, body.refresh_token if body else None)
    return {"message": "Successfully logged out"}


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> object:
    return user
