"""Accounts, for administrators: list, create, switch off and on, grant directory-source roots."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError as SchemaError

from semantik.shared.errors import AccessDeniedError, SemantikError, ValidationError
from semantik.shared.models import User
from semantik.shared.services import users
from semantik.webui.api.deps import AuthStateDep, SessionDep, SettingsDep
from semantik.webui.pages.forms import problems
from semantik.webui.pages.render import page
from semantik.webui.pages.route import PageRoute
from semantik.webui.pages.session import PageUser, UserForm, field
from semantik.webui.schemas import UserCreate, UserPatch

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PER_PAGE = 50


def page_admin(user: PageUser) -> User:
    if not user.is_superuser:
        raise AccessDeniedError("Only an administrator can manage accounts")
    return user


Admin = Annotated[User, Depends(page_admin)]


def _users_page(
    request: Request, session: SessionDep, settings, page_number: int = 1, status: int = 200, **context: Any
) -> Response:
    rows, total = users.page(session, page=page_number, per_page=PER_PAGE)
    shown = {"errors": {}, "values": {}, "notice": None, **context}
    return page(
        request,
        "users.html",
        status=status,
        rows=rows,
        page_number=page_number,
        pages=max(1, -(-total // PER_PAGE)),
        allowed_roots=[str(root) for root in settings.document_allowed_roots],
        **shown,
    )


@router.get("/admin/users")
def user_list(
    request: Request,
    _: Admin,
    session: SessionDep,
    settings: SettingsDep,
    page_number: int = Query(1, alias="page", ge=1, le=100_000),
) -> Response:
    return _users_page(request, session, settings, page_number)


@router.post("/admin/users")
def create_user(
    request: Request, form: UserForm, _: Admin, session: SessionDep, settings: SettingsDep
) -> Response:
    values = {name: field(form, name) for name in ("username", "email", "full_name")}
    try:
        body = UserCreate(
            **values,
            password=(form.get("password") or [""])[0],
            is_superuser=field(form, "is_superuser") == "on",
        )
        created = users.create(session, **body.model_dump())
    except SchemaError as error:
        return _users_page(request, session, settings, status=400, errors=problems(error), values=values)
    except SemantikError as error:
        return _users_page(request, session, settings, status=400, errors={"form": str(error)}, values=values)
    session.flush()
    return _users_page(request, session, settings, notice=f"The account “{created.username}” is created.")


@router.post("/admin/users/{user_id}")
def change_user(
    user_id: int,
    form: UserForm,
    admin: Admin,
    session: SessionDep,
    settings: SettingsDep,
    state: AuthStateDep,
) -> Response:
    """One change per form: ``change`` is activate, deactivate or roots (one path per line)."""
    change = field(form, "change")
    if change == "roots":
        roots = [line.strip() for line in field(form, "roots").splitlines() if line.strip()]
        try:
            fields = UserPatch(source_roots=roots).model_dump(exclude_unset=True)
        except SchemaError as error:
            raise ValidationError(" ".join(problems(error).values())) from None
    else:
        fields = {"is_active": change == "activate"}
    users.change(session, admin, user_id, fields, allowed_roots=settings.document_allowed_roots, state=state)
    return RedirectResponse("/admin/users", status_code=303)
