"""Page routes answer in HTML, errors included: a person reads words, never a JSON body."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from semantik.shared.errors import (
    AccessDeniedError,
    EntityNotFoundError,
    SemantikError,
    ServiceUnavailableError,
    TooManyRequestsError,
)
from semantik.webui.pages.render import page
from semantik.webui.pages.session import SignInRequired

log = logging.getLogger(__name__)
HEADINGS = {
    400: "That did not work",
    403: "Not allowed",
    404: "Not found",
    409: "Not right now",
    429: "Too many attempts",
    503: "A service is not answering",
}
NOT_FOUND = "There is nothing at this address. It may have been deleted, or the link is wrong."
UNAVAILABLE = (
    "Part of Semantik is not answering right now, so this could not be done. Try again in a minute; "
    "if it keeps happening, tell your administrator."
)


def error_page(request: Request, status: int, message: str) -> Response:
    heading = HEADINGS.get(status, "Something went wrong")
    return page(request, "error.html", status=status, heading=heading, message=message)


def _message(error: SemantikError) -> str:
    if isinstance(error, EntityNotFoundError):
        return NOT_FOUND
    if isinstance(error, TooManyRequestsError):
        return f"{error} (in about {error.retry_after} seconds)."
    if isinstance(error, ServiceUnavailableError):
        return UNAVAILABLE
    if isinstance(error, AccessDeniedError):
        return f"{error}."
    return str(error)


def _invalid(error: RequestValidationError) -> str:
    fields = sorted({str(item.get("loc", ["", "?"])[-1]) for item in error.errors()})
    return f"This address has a value that is not valid ({', '.join(fields)}). Check the link."


class PageRoute(APIRoute):
    """Answers every failure of a page with a page: sign-in needed, a refused form, a service error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handle(request)
            except SignInRequired:
                wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(wanted, safe='')}", status_code=303)
            except SemantikError as error:
                return error_page(request, error.status_code, _message(error))
            except RequestValidationError as error:
                return error_page(request, 400, _invalid(error))
            except HTTPException as error:
                return error_page(request, error.status_code, NOT_FOUND if error.status_code == 404 else "")
            except Exception:
                reference = getattr(request.state, "correlation_id", "")
                log.exception("page %s %s failed [%s]", request.method, request.url.path, reference)
                return error_page(
                    request,
                    500,
                    f"Semantik failed to show this page. Tell your administrator: reference ERR-{reference}.",
                )

        return page_handler
