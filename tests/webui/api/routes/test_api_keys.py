from factories import auth_headers


def _create(client, headers, name="ci"):
    return client.post("/api/v2/api-keys", json={"name": name}, headers=headers)


def test_key_is_shown_once_and_works_as_bearer(client) -> None:
    headers = auth_headers(client, "alice")
    created = _create(client, headers)
    assert created.status_code == 201
    raw = created.json()["api_key"]
    assert raw.startswith("smtk_" + created.json()["id"].replace("-", "")[:8] + "_")
    listed = client.get("/api/v2/api-keys", headers=headers).json()
    assert listed["total"] == 1
    assert "api_key" not in listed["api_keys"][0]
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == 200
    assert me.json()["username"] == "alice"


def test_revoked_key_is_401(client) -> None:
    headers = auth_headers(client, "alice")
    created = _create(client, headers).json()
    revoked = client.patch(f"/api/v2/api-keys/{created['id']}", json={"is_active": False}, headers=headers)
    assert revoked.status_code == 200
    assert revoked.json()["is_active"] is False
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {created['api_key']}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API key"


def test_duplicate_name_is_409_case_insensitive(client) -> None:
    headers = auth_headers(client, "alice")
    assert _create(client, headers, "Deploy").status_code == 201
    assert _create(client, headers, "deploy").status_code == 409


def test_another_users_key_is_403(client) -> None:
    alice = auth_headers(client, "alice")
    key = _create(client, alice).json()
    bob = auth_headers(client, "bob")
    assert client.get(f"/api/v2/api-keys/{key['id']}", headers=bob).status_code == 403
    assert (
        client.patch(f"/api/v2/api-keys/{key['id']}", json={"is_active": False}, headers=bob).status_code
        == 403
    )


def test_extra_fields_and_bad_expiry_are_422(client) -> None:
    headers = auth_headers(client, "alice")
    assert (
        client.post("/api/v2/api-keys", json={"name": "x", "scope": "all"}, headers=headers).status_code
        == 422
    )
    assert (
        client.post("/api/v2/api-keys", json={"name": "x", "expires_in_days": 0}, headers=headers).status_code
        == 422
    )
