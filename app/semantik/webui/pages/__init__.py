"""The web page: server-rendered HTML (Jinja2) beside the JSON API, calling the same services.

No build step and nothing from another site: templates, one stylesheet, one small script and an
icon ship inside the package, so an air-gapped site gets the whole page.
"""

from __future__ import annotations

from fastapi import FastAPI

from semantik.webui.pages import static
from semantik.webui.pages.routes import account, actions, collections, search, users


def install(app: FastAPI) -> None:
    for module in (static, account, search, collections, actions, users):
        app.include_router(module.router)
