"""Small builders for API tests.

Accounts are made as the deployment and administrators make them (self-registration is closed):
"alice" is the administrator, as the first account of an installation is; everyone else is a plain
user unless ``admin`` says otherwise.
"""

from __future__ import annotations

from typing import Any

PASSWORD = "correct-horse-battery"
ADMIN = "alice"


def register(
    client: Any, username: str = ADMIN, password: str = PASSWORD, admin: bool | None = None
) -> dict[str, Any]:
    """Create a user in the database; ``client`` is unused, kept so call sites read as before."""
    from semantik.shared.db import session_scope
    from semantik.shared.services import users
    from semantik.webui.schemas import UserOut

    with session_scope() as session:
        user = users.create(
            session,
            username=username,
            email=f"{username}@example.org",
            password=password,
            is_superuser=username == ADMIN if admin is None else admin,
        )
        return UserOut.model_validate(user).model_dump(mode="json")


def login_response(username: str, password: str) -> Any:
    """A login against a webui of its own (no shared client), as a separate program would."""
    from fastapi.testclient import TestClient

    from semantik.webui.main import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        return client.post("/api/auth/login", json={"username": username, "password": password})


def login(client: Any, username: str = "alice", password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def auth_headers(client: Any, username: str = ADMIN, admin: bool | None = None) -> dict[str, str]:
    register(client, username, admin=admin)
    return {"Authorization": f"Bearer {login(client, username)['access_token']}"}


def api_key_headers(client: Any, username: str = ADMIN) -> dict[str, str]:
    """Headers with an API key, which is checked in the database alone: it keeps working while Redis
    is down (a login session's token is checked against Redis and refused then)."""
    created = client.post("/api/v2/api-keys", json={"name": "tests"}, headers=auth_headers(client, username))
    assert created.status_code == 201, created.text
    return bearer(created.json()["api_key"])


def create_collection(
    client: Any, headers: dict[str, str], name: str = "docs", **fields: Any
) -> dict[str, Any]:
    response = client.post("/api/v2/collections", json={"name": name, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def finish_operations(collection_id: str) -> None:
    """Do what the worker does when a collection's operations end: complete them, mark it ready."""
    from sqlalchemy import update

    from semantik.shared.db import session_scope
    from semantik.shared.models import Collection, CollectionStatus, Operation, OperationStatus

    with session_scope() as session:
        session.execute(
            update(Operation)
            .where(Operation.collection_id == collection_id)
            .values(status=OperationStatus.COMPLETED)
        )
        session.execute(
            update(Collection).where(Collection.id == collection_id).values(status=CollectionStatus.READY)
        )


# -- the web page --------------------------------------------------------------------------------
def form_token(html: str) -> str:
    """The CSRF token a page's forms carry."""
    import re

    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "the page has no form token"
    return found.group(1)


def sign_in(web: Any, username: str = ADMIN, password: str = PASSWORD, next: str = "/") -> Any:
    """Sign in on the web page as a browser would; returns the answer to the form (a redirect)."""
    token = form_token(web.get("/login").text)
    return web.post("/login", data={"csrf": token, "username": username, "password": password, "next": next})


def post_form(web: Any, page: str, action: str, **fields: str) -> Any:
    """Send a form of ``page`` to ``action`` with the page's own form token."""
    return web.post(action, data={"csrf": form_token(web.get(page).text), **fields})
