"""Who is signed in on the web page, and the token every form carries.

The session is a cookie holding a session token (shared/services/auth.py): HttpOnly (no script
reads it), Secure (sent over TLS only; browsers count http://localhost as secure for the tests),
SameSite=Lax (a shared search link opens signed in; no other site's form sends it). The JSON API
never reads this cookie, so a cookie alone never drives the API.

Forms carry a token bound to the session (an HMAC of its login session's id under the JWT key),
checked on every POST; the sign-in form's token is bound to a random cookie of its own instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, TypedDict
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from semantik.shared.errors import AuthenticationError, SemantikError, ValidationError
from semantik.shared.models import User
from semantik.shared.services import auth
from semantik.webui.api.deps import AuthStateDep, SessionDep, SettingsDep

SESSION_COOKIE = "semantik_session"
SIGN_IN_COOKIE = "semantik_sign_in"


class _CookieOptions(TypedDict):
    httponly: bool
    secure: bool
    path: str


COOKIE: _CookieOptions = {"httponly": True, "secure": True, "path": "/"}
FORM_BYTES = 64 * 1024


class SignInRequired(Exception):
    """Raised by a page that needs a user; answered with a redirect to the sign-in page."""


class FormTokenError(SemantikError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__(
            "This form has expired or did not come from this site. Go back, reload the page and "
            "send it again."
        )


def _sign(request: Request, binding: str) -> str:
    key = (request.app.state.settings.jwt_secret_key or "").encode()
    return hmac.new(key, f"form:{binding}".encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token for this request's forms: of its session, else of its sign-in cookie (made here)."""
    family = getattr(request.state, "page_family", None)
    if family:
        return _sign(request, family)
    binding = request.cookies.get(SIGN_IN_COOKIE) or getattr(request.state, "sign_in_binding", None)
    if not binding:
        binding = request.state.sign_in_binding = secrets.token_urlsafe(24)
        queue_cookie(request, SIGN_IN_COOKIE, binding, max_age=3600, samesite="strict")
    return _sign(request, f"sign-in:{binding}")


def queue_cookie(request: Request, name: str, value: str, **options: object) -> None:
    """A cookie the page's response sets (render.page applies them)."""
    cookies = getattr(request.state, "cookies", [])
    cookies.append((name, value, {**COOKIE, **options}))
    request.state.cookies = cookies


def signed_in(token: str, max_age: int, to: str) -> RedirectResponse:
    response = RedirectResponse(to, status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, samesite="lax", **COOKIE)
    response.delete_cookie(SIGN_IN_COOKIE, **COOKIE)
    return response


def signed_out(to: str = "/login") -> RedirectResponse:
    response = RedirectResponse(to, status_code=303)
    response.delete_cookie(SESSION_COOKIE, samesite="lax", **COOKIE)
    return response


def _session_user(
    request: Request, session: SessionDep, settings: SettingsDep, state: AuthStateDep
) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        user, family = auth.user_from_access_token(session, settings, state, token, kind="session")
    except AuthenticationError:
        return None
    request.state.page_user, request.state.page_family = user, family
    return user


def page_user(user: Annotated[User | None, Depends(_session_user)]) -> User:
    if user is None:
        raise SignInRequired
    return user


async def read_form(request: Request) -> dict[str, list[str]]:
    """An urlencoded form body (what the page's forms send), at most FORM_BYTES."""
    body = b""
    async for part in request.stream():
        body += part
        if len(body) > FORM_BYTES:
            raise ValidationError("This form is larger than any form of this site")
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def _checked(request: Request, form: dict[str, list[str]]) -> dict[str, list[str]]:
    sent = (form.get("csrf") or [""])[0]
    if not hmac.compare_digest(sent, csrf_token(request)):
        raise FormTokenError
    return form


def user_form(
    request: Request, form: Annotated[dict, Depends(read_form)], _: Annotated[User, Depends(page_user)]
) -> dict[str, list[str]]:
    """A signed-in user's form, its token checked."""
    return _checked(request, form)


def sign_in_form(request: Request, form: Annotated[dict, Depends(read_form)]) -> dict[str, list[str]]:
    return _checked(request, form)


OptionalUser = Annotated[User | None, Depends(_session_user)]
PageUser = Annotated[User, Depends(page_user)]
UserForm = Annotated[dict[str, list[str]], Depends(user_form)]
SignInForm = Annotated[dict[str, list[str]], Depends(sign_in_form)]


def field(form: dict[str, list[str]], name: str, default: str = "") -> str:
    return (form.get(name) or [default])[0].strip()


def local_path(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never //host, a scheme, or characters
    a browser drops from a URL, which could make one of those)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return "/" if any(ord(char) < 33 or ord(char) == 127 for char in target) else target
