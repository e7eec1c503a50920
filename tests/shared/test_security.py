"""Access and refresh tokens: a verified token is remembered, and its expiry still checked on each use."""

from __future__ import annotations

from datetime import timedelta

import pytest

from semantik.shared import security

SECRET = "a-secret-for-the-token-tests-0123456789"


def _token(ttl: timedelta, kind: str = "access") -> str:
    return security.create_token(SECRET, user_id=7, username="alice", kind=kind, ttl=ttl)


def test_a_token_verified_once_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _token(timedelta(minutes=5))
    claims = security.decode_token(SECRET, token, "access")
    assert claims is not None and (claims["sub"], claims["user_id"]) == ("alice", 7)
    claims["user_id"] = 8  # a caller's copy: the remembered claims stay as verified
    assert security.decode_token(SECRET, token, "access")["user_id"] == 7
    now = security.time.time()
    monkeypatch.setattr(security.time, "time", lambda: now + 301)
    assert security.decode_token(SECRET, token, "access") is None


def test_kind_secret_and_signature_are_checked_on_every_use() -> None:
    token = _token(timedelta(minutes=5), kind="refresh")
    assert security.decode_token(SECRET, token, "refresh") is not None
    assert security.decode_token(SECRET, token, "access") is None
    assert security.decode_token(SECRET + "x", token, "refresh") is None
    head, body, signature = token.split(".")
    assert security.decode_token(SECRET, f"{head}.{body}.{signature[::-1]}", "refresh") is None
    assert security.decode_token(SECRET, _token(timedelta(seconds=-1)), "access") is None


def test_only_tokens_that_verified_are_remembered() -> None:
    security._verified_claims.cache_clear()
    for junk in ("a.b.c", _token(timedelta(seconds=-1)), "x" * 40):
        assert security.decode_token(SECRET, junk, "access") is None
    assert security._verified_claims.cache_info().currsize == 0
    security.decode_token(SECRET, _token(timedelta(minutes=1)), "access")
    assert security._verified_claims.cache_info().currsize == 1
