"""Templates (Jinja2, escaped by default) and the headers every page carries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from semantik.webui.pages import static, text

# Scripts and styles from this site only, no inline ones: injected markup could run nothing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # Pages show a user's own data (and an API key's secret once): never kept by a cache.
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # A search's words are in its URL: other sites see at most this site's origin.
    "Referrer-Policy": "same-origin",
}


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def duration(seconds: int) -> str:
    """A time left, as a person reads it: 45 s, 12 min, 2 h 05 min."""
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"


def size(count: int | None) -> str:
    value = float(count or 0)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


_templates = Environment(
    loader=PackageLoader("semantik.webui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.globals.update(static=static.url, now=lambda: datetime.now(UTC))
_templates.filters.update(
    when=when, duration=duration, size=size, highlight=text.highlight, passage=text.passage
)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with the signed-in user (if any) and the form token of this session."""
    from semantik.webui.pages.session import csrf_token

    state = request.state
    context.setdefault("user", getattr(state, "page_user", None))
    context.setdefault("csrf", csrf_token(request))
    context.setdefault("path", request.url.path)
    html = _templates.get_template(template).render(**context)
    response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
    for name, value, options in getattr(state, "cookies", []):
        response.set_cookie(name, value, **options)
    return response
