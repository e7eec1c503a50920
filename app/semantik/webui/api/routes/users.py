"""Accounts, for administrators only: self-registration is closed by default."""

from __future__ import annotations

from fastapi import APIRouter

from semantik.shared.services import users
from semantik.webui.api.deps import (
    AuthStateDep,
    CurrentSuperuser,
    PageNumber,
    PerPage,
    SessionDep,
    SettingsDep,
)
from semantik.webui.schemas import UserCreate, UserList, UserOut, UserPatch

router = APIRouter(prefix="/api/v2/users", tags=["users"])


@router.get("", response_model=UserList)
def list_users(
    _: CurrentSuperuser,
    session: SessionDep,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> object:
    rows, total = users.page(session, page=page, per_page=per_page)
    return {"users": rows, "total": total, "page": page, "per_page": per_page}


@router.post("", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, _: CurrentSuperuser, session: SessionDep) -> object:
    return users.create(session, **body.model_dump())


@router.get("/{user_id}", response_model=UserOut)
def get_user(user_id: int, _: CurrentSuperuser, session: SessionDep) -> object:
    return users.get(session, user_id)


@router.patch("/{user_id}", response_model=UserOut)
def change_user(
    user_id: int,
    body: UserPatch,
    admin: CurrentSuperuser,
    session: SessionDep,
    settings: SettingsDep,
    state: AuthStateDep,
) -> object:
    return users.change(
        session,
        admin,
        user_id,
        body.model_dump(exclude_unset=True),
        allowed_roots=settings.document_allowed_roots,
        state=state,
    )
