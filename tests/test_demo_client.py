"""ansible/demo.py's client, which make demo and the Molecule scenarios drive the API with: against the
real webui, a call made after its access token has stopped working is sent again with a refreshed one
(an upgrade or an ingest can outlast ACCESS_TOKEN_EXPIRE_MINUTES)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from factories import PASSWORD, register

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("demo", ROOT / "ansible/demo.py")
demo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo)


def test_a_call_whose_access_token_no_longer_works_is_refreshed_and_sent_again(webui_server: str) -> None:
    register(None, "alice")
    client = demo.Client(webui_server, None)
    demo.login(client, "alice", PASSWORD)
    first_refresh = client.refresh_token
    client.token = "an.expired.token"
    assert client.call("GET", "/api/auth/me")["username"] == "alice"
    assert client.token != "an.expired.token" and client.refresh_token != first_refresh


def test_without_a_refresh_token_a_401_is_an_error(webui_server: str) -> None:
    client = demo.Client(webui_server, None)
    with pytest.raises(demo.ApiError, match="401"):
        client.call("GET", "/api/auth/me")
