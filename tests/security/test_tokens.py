"""Point 4: what a stolen token is worth."""

from __future__ import annotations

import jwt

from factories import auth_headers, bearer, login, register


def _me(client, token: str) -> int:
    return client.get("/api/auth/me", headers=bearer(token)).status_code


def test_access_tokens_live_fifteen_minutes_by_default(client) -> None:
    register(client, "alice")
    claims = jwt.decode(login(client, "alice")["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 15 * 60


def test_logout_ends_the_access_token_too(client) -> None:
    register(client, "alice")
    tokens, other = login(client, "alice"), login(client, "alice")
    assert client.post("/api/auth/logout", headers=bearer(tokens["access_token"])).status_code == 200
    assert _me(client, tokens["access_token"]) == 401
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    )
    assert _me(client, other["access_token"]) == 200  # another login of the same user goes on


def test_a_logout_holds_on_every_webui_host(make_client) -> None:
    first, second = make_client(), make_client()
    register(first, "alice")
    tokens = login(first, "alice")
    assert _me(second, tokens["access_token"]) == 200
    assert first.post("/api/auth/logout", headers=bearer(tokens["access_token"])).status_code == 200
    assert _me(second, tokens["access_token"]) == 401


def test_a_refresh_token_used_twice_ends_its_whole_session(client) -> None:
    register(client, "alice")
    stolen = login(client, "alice")
    rotated = client.post("/api/auth/refresh", json={"refresh_token": stolen["refresh_token"]}).json()
    assert _me(client, rotated["access_token"]) == 200
    replay = client.post("/api/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    assert replay.status_code == 401
    assert _me(client, rotated["access_token"]) == 401
    assert _me(client, stolen["access_token"]) == 401
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": rotated["refresh_token"]}).status_code == 401
    )


def test_refresh_tokens_are_refused_in_the_query_string(client) -> None:
    register(client, "alice")
    refresh = login(client, "alice")["refresh_token"]
    response = client.post("/api/auth/refresh", params={"refresh_token": refresh})
    assert response.status_code == 400
    assert "query string" in response.json()["detail"]
    # Refused before use: the token still works from the body.
    assert client.post("/api/auth/refresh", json={"refresh_token": refresh}).status_code == 200


def test_api_key_lifetime_is_capped(make_client) -> None:
    client = make_client(api_key_max_lifetime_days=90)
    headers = auth_headers(client, "alice")
    too_long = client.post("/api/v2/api-keys", json={"name": "k1", "expires_in_days": 91}, headers=headers)
    assert too_long.status_code == 400
    assert "at most 90" in too_long.json()["detail"]
    unset = client.post("/api/v2/api-keys", json={"name": "k2"}, headers=headers).json()
    created, expires = (unset[name][:19] for name in ("created_at", "expires_at"))
    from datetime import datetime

    lifetime = datetime.fromisoformat(expires) - datetime.fromisoformat(created)
    assert round(lifetime.total_seconds() / 86400) == 90
