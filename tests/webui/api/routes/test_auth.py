from collections.abc import Iterator
from datetime import timedelta

import pytest

from factories import PASSWORD, auth_headers, login, register
from semantik.shared import security


@pytest.fixture
def open_client(db: None) -> Iterator:
    """A webui with self-registration opened (ALLOW_REGISTRATION=true)."""
    from fastapi.testclient import TestClient

    from semantik.shared.config import get_settings
    from semantik.webui.main import create_app

    settings = get_settings().model_copy(update={"allow_registration": True})
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def _self_register(client, username: str, email: str | None = None):
    body = {"username": username, "email": email or f"{username}@example.org", "password": PASSWORD}
    return client.post("/api/auth/register", json=body)


def test_open_registration_never_makes_an_administrator(open_client) -> None:
    first = _self_register(open_client, "alice")
    assert first.status_code == 200, first.text
    assert first.json()["is_superuser"] is False
    assert _self_register(open_client, "bob").json()["is_superuser"] is False


def test_duplicate_username_or_email_is_409_where_registration_is_open(open_client) -> None:
    register(open_client, "alice")
    again = _self_register(open_client, "alice", "x@example.org")
    assert again.status_code == 409
    assert "alice" in again.json()["detail"]


def test_wrong_password_is_401(client) -> None:
    register(client, "alice")
    response = client.post("/api/auth/login", json={"username": "alice", "password": "wrong-password"})
    assert response.status_code == 401
    assert response.json()["detail"] == "Incorrect username or password"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_me_with_token(client) -> None:
    headers = auth_headers(client, "alice")
    me = client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    assert "hashed_password" not in me.json()


@pytest.mark.parametrize("token", ["not-a-token", "a.b.c", "smtk_deadbeef_nope", ""])
def test_malformed_tokens_are_401(client, token: str) -> None:
    register(client, "alice")
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_expired_token_is_401(client, app_env) -> None:
    user = register(client, "alice")
    expired = security.create_token(
        app_env["JWT_SECRET_KEY"],
        user_id=user["id"],
        username="alice",
        kind="access",
        ttl=timedelta(seconds=-5),
    )
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401


def test_token_signed_with_another_key_is_401(client) -> None:
    user = register(client, "alice")
    forged = security.create_token(
        "another-key-" * 4, user_id=user["id"], username="alice", kind="access", ttl=timedelta(minutes=5)
    )
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_refresh_token_is_not_an_access_token(client) -> None:
    register(client, "alice")
    refresh = login(client, "alice")["refresh_token"]
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {refresh}"}).status_code == 401


def test_refresh_rotates_and_the_old_token_dies(client) -> None:
    register(client, "alice")
    first = login(client, "alice")["refresh_token"]
    rotated = client.post("/api/auth/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != first
    again = client.post("/api/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]})
    assert again.status_code == 200
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": again.json()["refresh_token"]}).status_code
        == 200
    )
    assert client.post("/api/auth/refresh").status_code == 400


def test_logout_revokes_refresh_tokens(client) -> None:
    register(client, "alice")
    tokens = login(client, "alice")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.post("/api/auth/logout", headers=headers).status_code == 200
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    )


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "email": "a@example.org", "password": PASSWORD},
        {"username": "a b c", "email": "a@example.org", "password": PASSWORD},
        {"username": "alice", "email": "not-an-email", "password": PASSWORD},
        {"username": "alice", "email": "a@example.org", "password": "short"},
        {"username": "alice", "email": "a@example.org", "password": PASSWORD, "is_superuser": True},
    ],
)
def test_bad_registrations_are_422(open_client, body: dict) -> None:
    assert open_client.post("/api/auth/register", json=body).status_code == 422
