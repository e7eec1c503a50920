"""Point 2: a directory source reads the host's files, so adding one takes an administrator's consent."""

from __future__ import annotations

from pathlib import Path

from factories import auth_headers, bearer, create_collection, finish_operations, login, register
from semantik.shared.services.users import SOURCES_NEED_ADMIN


def _add(client, headers: dict[str, str], collection_id: str, path: Path):
    finish_operations(collection_id)  # the collection's initial index is done: it takes sources
    return client.post(
        f"/api/v2/collections/{collection_id}/sources", json={"source_path": str(path)}, headers=headers
    )


def test_a_plain_user_cannot_add_a_directory_source(client, documents_root: Path) -> None:
    auth_headers(client, "alice")
    bob = auth_headers(client, "bob")
    mine = create_collection(client, bob, "bobs")
    refused = _add(client, bob, mine["id"], documents_root)
    assert refused.status_code == 403
    assert refused.json()["detail"] == SOURCES_NEED_ADMIN
    operations = client.get(f"/api/v2/collections/{mine['id']}/operations", headers=bob).json()
    assert [op["type"] for op in operations] == ["index"]  # nothing was queued for the refused source


def test_an_administrator_can(client, documents_root: Path) -> None:
    alice = auth_headers(client, "alice")
    collection = create_collection(client, alice, "handbook")
    assert _add(client, alice, collection["id"], documents_root).status_code == 202


def test_a_granted_root_allows_that_root_only(client, documents_root: Path) -> None:
    (documents_root / "team").mkdir(exist_ok=True)
    (documents_root / "secrets").mkdir(exist_ok=True)
    alice = auth_headers(client, "alice")
    bob_id = register(client, "bob")["id"]
    grant = client.patch(
        f"/api/v2/users/{bob_id}", json={"source_roots": [str(documents_root / "team")]}, headers=alice
    )
    assert grant.status_code == 200, grant.text
    assert grant.json()["source_roots"] == [str((documents_root / "team").resolve())]
    bob = bearer(login(client, "bob")["access_token"])
    collection = create_collection(client, bob, "team-notes")
    assert _add(client, bob, collection["id"], documents_root / "secrets").status_code == 400
    assert _add(client, bob, collection["id"], documents_root).status_code == 400
    assert _add(client, bob, collection["id"], documents_root / "team").status_code == 202


def test_a_grant_outside_the_allowed_roots_is_refused(client, documents_root: Path, tmp_path: Path) -> None:
    alice = auth_headers(client, "alice")
    bob_id = register(client, "bob")["id"]
    for root in ("/etc", str(tmp_path), str(documents_root / ".." / "..")):
        response = client.patch(f"/api/v2/users/{bob_id}", json={"source_roots": [root]}, headers=alice)
        assert response.status_code == 400, root
    assert client.get(f"/api/v2/users/{bob_id}", headers=alice).json()["source_roots"] == []


def test_another_users_private_collection_stays_out_of_reach(client) -> None:
    alice = auth_headers(client, "alice")
    private = create_collection(client, alice, "private")
    bob = auth_headers(client, "bob")
    hits = client.post(
        "/api/v2/search", json={"collection_uuids": [private["id"]], "query": "x"}, headers=bob
    )
    assert hits.status_code == 403
    assert client.get(f"/api/v2/collections/{private['id']}", headers=bob).status_code == 403
    assert client.get(f"/api/v2/collections/{private['id']}/documents", headers=bob).status_code == 403
    listed = client.get("/api/v2/collections", headers=bob).json()
    assert listed["total"] == 0
