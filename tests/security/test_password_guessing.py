"""Point 3: guessing passwords is slow, counted across workers and hosts, and names nobody."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from factories import PASSWORD, register
from semantik.shared import security


def _login(client, username: str, password: str = "wrong-password"):
    return client.post("/api/auth/login", json={"username": username, "password": password})


def _attempts_until_429(client, username: str, limit: int = 50) -> int:
    for attempt in range(1, limit + 1):
        if _login(client, username).status_code == 429:
            return attempt
    raise AssertionError(f"no 429 in {limit} attempts")


def test_an_account_is_locked_after_its_failures_even_for_the_right_password(client) -> None:
    register(client, "alice")
    before = _attempts_until_429(client, "alice")
    print(f"per account: {before - 1} failures answered 401, attempt {before} got 429")
    assert before == 6  # LOGIN_MAX_FAILURES_PER_ACCOUNT=5
    locked = _login(client, "alice", PASSWORD)
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 300
    assert "Too many failed logins" in locked.json()["detail"]
    register(client, "bob")
    assert _login(client, "bob", PASSWORD).status_code == 200  # another account is not locked


def test_a_success_clears_the_account_count(client) -> None:
    register(client, "alice")
    for _ in range(4):
        assert _login(client, "alice").status_code == 401
    assert _login(client, "alice", PASSWORD).status_code == 200
    for _ in range(5):
        assert _login(client, "alice").status_code == 401


def test_an_address_is_limited_across_accounts(make_client) -> None:
    client = make_client(login_max_failures_per_address=8)
    names = [f"user{number}" for number in range(12)]
    answers = [_login(client, name).status_code for name in names]
    print(f"per address: {answers.index(429)} failures over 12 names before a 429")
    assert answers == [401] * 8 + [429] * 4


def test_the_count_holds_across_webui_hosts(make_client) -> None:
    first, second = make_client(), make_client()
    register(first, "alice")
    for client in (first, second, first, second, first):
        assert _login(client, "alice").status_code == 401
    assert _login(second, "alice", PASSWORD).status_code == 429


def test_the_count_holds_across_gunicorn_workers(webui_server: str) -> None:
    register(None, "alice")
    # New connections spread over the two workers; the count is Redis's, not a worker's.
    statuses = [
        httpx.post(f"{webui_server}/api/auth/login", json={"username": "alice", "password": "no"}).status_code
        for _ in range(8)
    ]
    assert statuses == [401] * 5 + [429] * 3


def test_an_unknown_name_costs_one_hash_like_a_known_one(client, monkeypatch) -> None:
    register(client, "alice")
    verified = []
    original = security._passwords.verify
    monkeypatch.setattr(security._passwords, "verify", lambda *a: verified.append(1) or original(*a))
    _login(client, "alice")
    _login(client, "nobody-by-this-name")
    assert len(verified) == 2  # one argon2 verification each


def test_known_and_unknown_names_take_the_same_time(make_client) -> None:
    client = make_client(login_max_failures_per_account=100, login_max_failures_per_address=1000)
    register(client, "alice")
    _login(client, "warm-up")
    known, unknown = [], []
    for _ in range(15):
        for name, times in (("alice", known), ("nobody", unknown)):
            started = time.perf_counter()
            assert _login(client, name).status_code == 401
            times.append(time.perf_counter() - started)
    p50_known, p50_unknown = statistics.median(known) * 1000, statistics.median(unknown) * 1000
    print(f"login p50: known user {p50_known:.1f} ms, unknown user {p50_unknown:.1f} ms")
    # Without the decoy an unknown name answers in well under a millisecond against ~20-60 ms.
    assert 0.5 < p50_unknown / p50_known < 2.0


def test_hashing_runs_under_a_bounded_concurrency(make_client, monkeypatch) -> None:
    client = make_client(password_hash_concurrency=2, login_max_failures_per_address=1000)
    register(client, "alice")
    running, peak, lock = 0, 0, threading.Lock()
    original = security._passwords.verify

    def counted(*args):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            return original(*args)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(security._passwords, "verify", counted)
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda n: _login(client, f"flood{n}").status_code, range(24)))
    assert statuses == [401] * 24
    assert peak == 2
