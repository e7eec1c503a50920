"""Point 1: nobody registers themselves; administrators make, list and switch off accounts."""

from __future__ import annotations

from factories import PASSWORD, auth_headers, bearer, login, register


def test_registration_is_closed_by_default_and_says_why(client) -> None:
    body = {"username": "mallory", "email": "mallory@example.org", "password": PASSWORD}
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 403
    assert "Self-registration is closed" in response.json()["detail"]
    # Closed means no "taken" answer either: an existing name gets the same 403.
    register(client, "alice")
    taken = client.post("/api/auth/register", json={**body, "username": "alice"})
    assert (taken.status_code, taken.json()["detail"]) == (403, response.json()["detail"])
    admin = bearer(login(client, "alice")["access_token"])
    names = [user["username"] for user in client.get("/api/v2/users", headers=admin).json()["users"]]
    assert "alice" in names and "mallory" not in names


def test_administrators_create_list_and_deactivate_users(client) -> None:
    admin = auth_headers(client, "alice")
    created = client.post(
        "/api/v2/users",
        json={"username": "bob", "email": "bob@example.org", "password": PASSWORD},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["is_superuser"] is False
    listed = client.get("/api/v2/users", headers=admin).json()
    assert (listed["total"], [u["username"] for u in listed["users"]]) == (2, ["alice", "bob"])
    off = client.patch(f"/api/v2/users/{created.json()['id']}", json={"is_active": False}, headers=admin)
    assert (off.status_code, off.json()["is_active"]) == (200, False)
    assert client.post("/api/auth/login", json={"username": "bob", "password": PASSWORD}).status_code == 403


def test_plain_users_cannot_manage_users(client) -> None:
    auth_headers(client, "alice")
    bob = auth_headers(client, "bob")
    new = {"username": "eve", "email": "eve@example.org", "password": PASSWORD, "is_superuser": True}
    for method, url, body in (
        ("GET", "/api/v2/users", None),
        ("POST", "/api/v2/users", new),
        ("GET", "/api/v2/users/1", None),
        ("PATCH", "/api/v2/users/1", {"is_active": False}),
        ("PATCH", "/api/v2/users/2", {"is_superuser": True}),
    ):
        response = client.request(method, url, json=body, headers=bob)
        assert response.status_code == 403, (method, url, response.text)
        assert response.json()["detail"] == "Only an administrator can do this"
    assert client.get("/api/auth/me", headers=bob).json()["is_superuser"] is False


def test_a_deactivated_user_loses_tokens_and_api_keys_at_once(client) -> None:
    admin = auth_headers(client, "alice")
    bob_id = register(client, "bob")["id"]
    tokens = login(client, "bob")
    key = client.post("/api/v2/api-keys", json={"name": "laptop"}, headers=bearer(tokens["access_token"]))
    api_key = key.json()["api_key"]
    assert client.get("/api/auth/me", headers=bearer(api_key)).status_code == 200
    assert (
        client.patch(f"/api/v2/users/{bob_id}", json={"is_active": False}, headers=admin).status_code == 200
    )
    assert client.get("/api/auth/me", headers=bearer(tokens["access_token"])).status_code in (401, 403)
    assert client.get("/api/auth/me", headers=bearer(api_key)).status_code == 401
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401


def test_an_administrator_cannot_lock_themselves_out(client) -> None:
    admin = auth_headers(client, "alice")
    me = client.get("/api/auth/me", headers=admin).json()["id"]
    for change in ({"is_active": False}, {"is_superuser": False}):
        response = client.patch(f"/api/v2/users/{me}", json=change, headers=admin)
        assert response.status_code == 400
        assert "own account" in response.json()["detail"]
