"""The pages themselves, without a browser: headers, escaping, forms and their errors in words."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from factories import finish_operations, post_form, register, sign_in


class _Inline(HTMLParser):
    """What a policy without 'unsafe-inline' would block: inline scripts, style and on* attributes,
    <style> elements, javascript: links."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if (tag == "script" and "src" not in names) or tag == "style":
            self.found.append(f"<{tag}> without src")
        self.found += [f"{tag} {name}=" for name in names if name == "style" or name.startswith("on")]
        self.found += [f"{tag} {v}" for _, v in attrs if v and v.strip().lower().startswith("javascript:")]


def inline_code(html: str) -> list[str]:
    parser = _Inline()
    parser.feed(html)
    return parser.found


def _new_collection(web, name: str = "notes", **fields: str) -> object:
    values = {"name": name, "description": "", "chunk_size": "1000", "chunk_overlap": "200", **fields}
    return post_form(web, "/collections/new", "/collections/new", **values)


def _collection_id(answer) -> str:
    assert answer.status_code == 303, answer.text
    return answer.headers["location"].rsplit("/", 1)[-1]


def test_every_page_has_the_strict_policy_and_nothing_inline_it_would_block(web) -> None:
    assert len(inline_code('<p style="x" onclick="y"><a href="javascript:z">a</a><script>1</script>')) == 4
    register(web)
    sign_in(web)
    collection = _collection_id(_new_collection(web))
    pages = [
        "/",
        "/search?q=tides",
        "/collections",
        "/collections/new",
        f"/collections/{collection}",
        f"/collections/{collection}/live",
        f"/collections/{collection}/delete",
        "/keys",
        "/admin/users",
        "/no/such/page",
    ]
    for path in pages:
        answer = web.get(path)
        assert answer.headers["content-type"].startswith("text/html"), path
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy, path
        assert answer.headers["cache-control"] == "no-store", path
        assert inline_code(answer.text) == [], path


def test_static_files_are_versioned_and_cached_for_a_year(web) -> None:
    html = web.get("/login").text
    urls = re.findall(r'(?:href|src)="(/static/[0-9a-f]{12}/[a-z]+\.(?:css|js|svg))"', html)
    assert len(urls) == 3
    for url in urls:
        answer = web.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = re.sub(r"/static/[0-9a-f]{12}/", "/static/000000000000/", urls[0])
    answer = web.get(stale)
    assert answer.status_code == 404 and answer.headers["cache-control"] == "no-store"
    assert web.get(urls[0].replace("app.css", "..%2F..%2Fpages%2Fstatic.py")).status_code == 404


def test_an_unknown_address_is_a_page_but_the_api_keeps_json(web) -> None:
    answer = web.get("/nothing-here")
    assert answer.status_code == 404 and "There is nothing at this address" in answer.text
    api = web.get("/api/v2/nothing-here")
    assert api.status_code == 404 and api.json()["detail"] == "Not Found"


def test_a_new_collection_is_made_and_its_limits_are_explained_in_words(web) -> None:
    register(web)
    sign_in(web)
    form = web.get("/collections/new").text
    assert "From 100 to 10000" in form and "at most half the chunk size" in form
    refused = _new_collection(web, "bad", chunk_size="50", chunk_overlap="x")
    assert refused.status_code == 400
    assert "greater than or equal to 100" in refused.text and "Enter a whole number." in refused.text
    assert 'aria-invalid="true"' in refused.text and 'value="bad"' in refused.text
    halves = _new_collection(web, "bad", chunk_size="200", chunk_overlap="150")
    assert "chunk_overlap must be at most half of chunk_size" in halves.text
    collection = _collection_id(_new_collection(web, "notes"))
    assert "already exists" in _new_collection(web, "notes").text
    page = web.get(f"/collections/{collection}").text
    assert "notes" in page and "Create the index" in page and 'data-active="true"' in page
    assert '<meta http-equiv="refresh" content="5">' in page  # inside <noscript>: without a script
    listing = web.get("/collections").text
    assert f'href="/collections/{collection}"' in listing and "pending" in listing


def test_values_from_users_and_documents_are_escaped(web) -> None:
    from semantik.shared.db import session_scope
    from semantik.shared.models import Document, DocumentStatus

    register(web)
    sign_in(web)
    collection = _collection_id(_new_collection(web, "x", description="<img src=x onerror=alert(1)>"))
    with session_scope() as session:
        session.add(
            Document(
                collection_id=collection,
                file_path="/docs/<script>alert(1)</script>.txt",
                file_name="<script>alert(1)</script>.txt",
                file_size=1,
                content_hash="0" * 64,
                status=DocumentStatus.FAILED,
                error_message='<b onmouseover="x">bad</b>',
            )
        )
    page = web.get(f"/collections/{collection}").text
    assert "<script>alert(1)" not in page and "<img src=x" not in page and "<b onmouseover" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.txt" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert inline_code(page) == []


def test_a_search_without_vecpipe_says_so_in_words(dead_vecpipe, web) -> None:
    register(web)
    sign_in(web)
    collection = _collection_id(_new_collection(web))
    finish_operations(collection)
    answer = web.get("/search", params={"q": "how do tides work", "c": collection})
    assert answer.status_code == 200
    assert "The search service (vecpipe) is not answering" in answer.text
    assert 'value="how do tides work"' in answer.text  # the form keeps the query: try again


def test_a_keyword_index_is_offered_on_creation_and_the_search_modes_follow_it(web) -> None:
    register(web)
    sign_in(web)
    form = web.get("/collections/new").text
    assert re.search(r'<input type="checkbox" name="keywords" value="on"[^>]* checked>', form)
    plain = _collection_id(_new_collection(web, "plain"))  # the box left unticked
    finish_operations(plain)
    assert "none: searchable by meaning only" in web.get(f"/collections/{plain}").text
    form = web.get("/search").text
    assert re.search(r'<option value="sparse"[^>]* disabled>', form) and "Meaning (the default)" in form
    refused = web.get("/search", params={"q": "work_mem", "c": plain, "mode": "sparse"})
    assert refused.status_code == 200 and "needs a sparse index" in refused.text, refused.text
    assert 'value="sparse" selected' in refused.text  # the form keeps the choice
    assert web.get("/search", params={"q": "x", "mode": "fuzzy"}).status_code == 400
    indexed = _collection_id(_new_collection(web, "indexed", keywords="on"))
    finish_operations(indexed)
    assert "BM25: searchable by exact words" in web.get(f"/collections/{indexed}").text
    form = web.get("/search").text
    assert "Meaning and words (the default)" in form and "disabled" not in form


def test_a_search_with_no_collection_points_to_creating_one(web) -> None:
    register(web)
    sign_in(web)
    page = web.get("/search?q=anything").text
    assert "There is no collection to search yet" in page and 'href="/collections/new"' in page


def test_actions_are_confirmed_on_a_page_of_their_own(web) -> None:
    register(web)
    sign_in(web)
    collection = _collection_id(_new_collection(web, "gone"))
    finish_operations(collection)
    confirm = web.get(f"/collections/{collection}/delete").text
    assert "cannot be undone" in confirm and f'action="/collections/{collection}/delete"' in confirm
    answer = post_form(web, f"/collections/{collection}/delete", f"/collections/{collection}/delete")
    assert answer.status_code == 303 and answer.headers["location"] == "/collections?deleted=gone"
    assert "The collection “gone” is deleted." in web.get(answer.headers["location"]).text
    assert web.get(f"/collections/{collection}").status_code == 404


def test_an_action_refused_by_the_collections_state_is_said_in_words(web) -> None:
    register(web)
    sign_in(web)
    collection = _collection_id(_new_collection(web, "busy"))
    answer = post_form(web, "/collections", f"/collections/{collection}/reindex")
    assert answer.status_code == 409
    assert "Collection is pending; this needs ready" in answer.text


def test_a_source_outside_the_allowed_roots_is_refused_beside_its_form(web, documents_root) -> None:
    register(web)
    sign_in(web)
    collection = _collection_id(_new_collection(web, "src"))
    finish_operations(collection)
    page = web.get(f"/collections/{collection}").text
    assert f"Inside {documents_root}" in page
    answer = post_form(web, f"/collections/{collection}", f"/collections/{collection}/sources", path="/etc")
    assert answer.status_code == 400
    assert "is outside the allowed roots" in answer.text and 'value="/etc"' in answer.text


def test_a_user_without_source_roots_is_told_who_can_add_sources(web) -> None:
    register(web, "bob")
    sign_in(web, "bob")
    collection = _collection_id(_new_collection(web, "bobs"))
    finish_operations(collection)
    page = web.get(f"/collections/{collection}").text
    assert "only an administrator can" in page and 'name="path"' not in page


def test_an_api_key_is_shown_once_listed_and_revoked(web) -> None:
    register(web)
    sign_in(web)
    created = post_form(web, "/keys", "/keys", name="report <job>", expires_in_days="30")
    secret = re.search(r'<code id="new-key" class="key">(smtk_[^<]+)</code>', created.text).group(1)
    assert web.get("/api/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listing = web.get("/keys").text
    assert secret not in listing and "report &lt;job&gt;" in listing
    key_id = re.search(r'action="/keys/([0-9a-f-]{36})/revoke"', listing).group(1)
    revoked = post_form(web, "/keys", f"/keys/{key_id}/revoke")
    assert revoked.status_code == 303
    assert "is revoked" in web.get(revoked.headers["location"]).text
    assert web.get("/api/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    too_long = post_form(web, "/keys", "/keys", name="forever", expires_in_days="99999")
    assert too_long.status_code == 400 and "less than or equal to 3650" in too_long.text


def test_administrators_create_accounts_and_grant_source_roots(web, documents_root) -> None:
    register(web)
    sign_in(web)
    created = post_form(
        web,
        "/admin/users",
        "/admin/users",
        username="carol",
        email="carol@example.org",
        password="long-password",
    )
    assert created.status_code == 200 and "The account “carol” is created." in created.text
    short = post_form(
        web, "/admin/users", "/admin/users", username="dave", email="d@example.org", password="x"
    )
    assert short.status_code == 400 and "at least 8 characters" in short.text
    carol = re.search(r'action="/admin/users/(\d+)" class="roots"', created.text).group(1)
    granted = post_form(
        web, "/admin/users", f"/admin/users/{carol}", change="roots", roots=str(documents_root)
    )
    assert granted.status_code == 303
    assert str(documents_root) in web.get("/admin/users").text


def test_a_source_is_removed_after_its_confirmation(web) -> None:
    from semantik.shared.db import session_scope
    from semantik.shared.models import CollectionSource

    register(web)
    sign_in(web)
    collection = _collection_id(_new_collection(web, "sourced"))
    with session_scope() as session:
        session.add(
            CollectionSource(collection_id=collection, source_path="/docs/a&b", source_type="directory")
        )
    finish_operations(collection)
    page = web.get(f"/collections/{collection}").text
    assert f'href="/collections/{collection}/remove-source?path=/docs/a%26b"' in page
    confirm = web.get(f"/collections/{collection}/remove-source", params={"path": "/docs/a&b"}).text
    assert "<code>/docs/a&amp;b</code>" in confirm and 'name="path" value="/docs/a&amp;b"' in confirm
    answer = post_form(
        web, f"/collections/{collection}", f"/collections/{collection}/remove-source", path="/docs/a&b"
    )
    assert answer.status_code == 303
    assert "Remove a source" in web.get(f"/collections/{collection}").text


def test_a_running_operation_shows_chunks_embedded_and_the_time_left(web) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from semantik.shared.db import session_scope
    from semantik.shared.models import Operation, OperationStatus, utcnow

    register(web)
    sign_in(web)
    collection = _collection_id(_new_collection(web, "moving"))
    with session_scope() as session:  # as the worker leaves it inside a batch: no document done yet
        session.execute(
            update(Operation)
            .where(Operation.collection_id == collection)
            .values(
                status=OperationStatus.PROCESSING,
                documents_total=10,
                started_at=utcnow() - timedelta(seconds=100),
                meta={"documents_prepared": 5, "chunks_prepared": 50, "chunks_embedded": 25},
            )
        )
    page = web.get(f"/collections/{collection}/live").text
    assert "0 of 10 documents" in page
    assert re.search(r"25 of about 100 chunks embedded, about 5 min left", page), page
