"""Signing in and out on the web page: the cookie, the form tokens, what the session opens and not."""

from __future__ import annotations

from factories import PASSWORD, bearer, form_token, post_form, register, sign_in


def _cookie(answer, name: str) -> str:
    header = next(v for v in answer.headers.get_list("set-cookie") if v.startswith(f"{name}="))
    return header


def test_signing_in_sets_an_httponly_secure_samesite_session_cookie(web) -> None:
    register(web)
    answer = sign_in(web, next="/collections")
    assert (answer.status_code, answer.headers["location"]) == (303, "/collections")
    header = _cookie(answer, "semantik_session")
    flags = {part.strip().lower() for part in header.split(";")}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags
    assert web.get("/collections").status_code == 200


def test_a_page_without_a_session_asks_to_sign_in_and_comes_back(web) -> None:
    answer = web.get("/collections?page=2")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login?next=%2Fcollections%3Fpage%3D2")
    page = web.get(answer.headers["location"]).text
    assert 'name="next" value="/collections?page=2"' in page


def test_a_wrong_password_is_said_in_words_on_the_sign_in_page(web) -> None:
    register(web)
    answer = sign_in(web, password="not-the-password")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("text/html")
    assert "The username or the password is not right" in answer.text
    assert '"detail"' not in answer.text
    assert "semantik_session" not in answer.headers.get("set-cookie", "")


def test_too_many_wrong_passwords_are_refused_in_words(web) -> None:
    register(web)
    answers = [sign_in(web, password="wrong-password") for _ in range(6)]
    assert answers[-1].status_code == 429
    assert "Too many failed sign-ins" in answers[-1].text and "minute" in answers[-1].text


def test_sign_in_goes_only_to_this_sites_pages(web, make_web) -> None:
    register(web)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "x:y"):
        answer = sign_in(make_web(), next=target)
        assert answer.headers["location"] == "/", target


def test_every_form_needs_the_token_of_its_session(web) -> None:
    register(web)
    sign_in(web)
    for action in ("/logout", "/collections/new", "/keys", "/admin/users"):
        missing = web.post(action, data={"name": "x"})
        forged = web.post(action, data={"name": "x", "csrf": "0" * 64})
        for answer in (missing, forged):
            assert answer.status_code == 403, action
            assert "This form has expired or did not come from this site" in answer.text
    assert web.get("/collections").status_code == 200  # still signed in: the forged sign-out did nothing


def test_the_sign_in_form_needs_its_token_too(web) -> None:
    register(web)
    answer = web.post("/login", data={"username": "alice", "password": PASSWORD})
    assert answer.status_code == 403
    assert "semantik_session" not in answer.headers.get("set-cookie", "")


def test_a_token_of_another_session_is_refused(web, make_web) -> None:
    register(web)
    register(web, "bob")
    sign_in(web)
    other = make_web()
    sign_in(other, "bob")
    bobs_token = form_token(other.get("/keys").text)
    assert web.post("/keys", data={"csrf": bobs_token, "name": "stolen"}).status_code == 403


def test_signing_out_ends_the_session_for_good(web, make_web) -> None:
    register(web)
    sign_in(web)
    copied = {"Cookie": f"semantik_session={web.cookies.get('semantik_session')}"}
    thief = make_web()
    assert thief.get("/keys", headers=copied).status_code == 200
    answer = post_form(web, "/keys", "/logout")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    assert "semantik_session" not in web.cookies
    assert thief.get("/keys", headers=copied).status_code == 303  # the old cookie opens nothing


def test_the_api_ignores_the_session_cookie_and_refuses_its_token(web) -> None:
    register(web)
    sign_in(web)
    assert web.get("/api/auth/me").status_code == 401  # a cookie alone never drives the API
    token = web.cookies.get("semantik_session")
    assert web.get("/api/auth/me", headers=bearer(token)).status_code == 401


def test_switching_an_account_off_ends_its_web_session(web, make_web) -> None:
    register(web)
    bob = register(web, "bob")
    other = make_web()
    sign_in(other, "bob")
    assert other.get("/keys").status_code == 200
    sign_in(web)
    changed = post_form(web, "/admin/users", f"/admin/users/{bob['id']}", change="deactivate")
    assert changed.status_code == 303
    assert other.get("/keys").status_code == 303


def test_only_administrators_see_the_users_page(web) -> None:
    register(web, "bob")
    sign_in(web, "bob")
    answer = web.get("/admin/users")
    assert answer.status_code == 403
    assert "Only an administrator can manage accounts" in answer.text
    assert 'href="/admin/users"' not in web.get("/keys").text
