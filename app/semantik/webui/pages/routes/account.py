"""Signing in and out, and a user's API keys."""

from __future__ import annotations

from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError as SchemaError

from semantik.shared.errors import (
    AuthenticationError,
    SemantikError,
    ServiceUnavailableError,
    TooManyRequestsError,
)
from semantik.shared.services import api_keys, auth
from semantik.webui.api.deps import AuthStateDep, ClientAddress, SessionDep, SettingsDep
from semantik.webui.pages.forms import problems
from semantik.webui.pages.render import page
from semantik.webui.pages.route import PageRoute
from semantik.webui.pages.session import (
    OptionalUser,
    PageUser,
    SignInForm,
    UserForm,
    field,
    local_path,
    signed_in,
    signed_out,
)
from semantik.webui.schemas import ApiKeyIn

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _sign_in_refused(error: SemantikError) -> tuple[int, str]:
    if isinstance(error, TooManyRequestsError):
        minutes = max(1, round(error.retry_after / 60))
        return 429, (
            "Too many failed sign-ins for this account or from this address. "
            f"Wait {minutes} minute{'s' if minutes > 1 else ''} and try again."
        )
    if isinstance(error, ServiceUnavailableError):
        return 503, "Signing in is not possible right now (a service is not answering). Try again soon."
    if str(error) == "Inactive user":
        return 403, "This account is switched off. Ask an administrator to switch it on again."
    return 401, "The username or the password is not right. Check both and try again."


@router.get("/login")
def sign_in_page(request: Request, user: OptionalUser, next: str = "/") -> Response:
    if user is not None:
        return RedirectResponse(local_path(next), status_code=303)
    return page(request, "login.html", next=local_path(next), username="", error=None)


@router.post("/login")
def sign_in(
    request: Request,
    form: SignInForm,
    session: SessionDep,
    settings: SettingsDep,
    state: AuthStateDep,
    address: ClientAddress,
) -> Response:
    username, password = field(form, "username"), (form.get("password") or [""])[0]
    to = local_path(field(form, "next", "/"))
    try:
        if not username or not password:
            raise AuthenticationError(auth.WRONG_CREDENTIALS)
        token = auth.start_web_session(session, settings, state, username, password, address)
    except (AuthenticationError, TooManyRequestsError, ServiceUnavailableError) as error:
        status, message = _sign_in_refused(error)
        return page(request, "login.html", status=status, next=to, username=username, error=message)
    return signed_in(token, settings.web_session_hours * 3600, to)


@router.post("/logout")
def sign_out(
    request: Request, _: UserForm, user: PageUser, session: SessionDep, state: AuthStateDep
) -> Response:
    auth.logout(session, state, user, request.state.page_family, None)
    return signed_out()


def _keys_page(
    request: Request, session: SessionDep, user: PageUser, status: int = 200, **context: object
) -> Response:
    shown = {"created": None, "errors": {}, "values": {}, "notice": None, **context}
    return page(request, "keys.html", status=status, keys=api_keys.list_for(session, user), **shown)


@router.get("/keys")
def keys(request: Request, user: PageUser, session: SessionDep, revoked: str = "") -> Response:
    notice = f"The key “{revoked[:100]}” is revoked: it no longer works." if revoked else None
    return _keys_page(request, session, user, notice=notice)


@router.post("/keys")
def create_key(
    request: Request, form: UserForm, user: PageUser, session: SessionDep, settings: SettingsDep
) -> Response:
    values = {"name": field(form, "name"), "expires_in_days": field(form, "expires_in_days")}
    try:
        body = ApiKeyIn(name=values["name"], expires_in_days=values["expires_in_days"] or None)
        key, raw = api_keys.create(
            session,
            user,
            name=body.name,
            expires_in_days=body.expires_in_days,
            limit=settings.api_key_max_per_user,
            longest=settings.api_key_max_lifetime_days,
        )
    except SchemaError as error:
        return _keys_page(request, session, user, status=400, errors=problems(error), values=values)
    except SemantikError as error:
        return _keys_page(request, session, user, status=400, errors={"form": str(error)}, values=values)
    session.flush()
    return _keys_page(request, session, user, created={"name": key.name, "secret": raw})


@router.post("/keys/{key_id}/revoke")
def revoke_key(
    key_id: UUID, _: UserForm, user: PageUser, session: SessionDep, settings: SettingsDep
) -> Response:
    key = api_keys.set_active(session, user, str(key_id), False, settings.api_key_max_per_user)
    return RedirectResponse(f"/keys?revoked={quote(key.name)}", status_code=303)
