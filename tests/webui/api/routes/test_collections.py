import pytest

from factories import auth_headers, create_collection, finish_operations


def test_create_returns_the_collection_and_its_index_operation(client) -> None:
    headers = auth_headers(client, "alice")
    created = create_collection(client, headers, "Docs", chunk_size=500, chunk_overlap=50)
    assert created["status"] == "pending"
    assert created["vector_store_name"] == "col_" + created["id"].replace("-", "_")
    assert (created["chunk_size"], created["chunk_overlap"], created["quantization"]) == (500, 50, "float16")
    operation = client.get(f"/api/v2/operations/{created['initial_operation_id']}", headers=headers).json()
    assert (operation["type"], operation["status"]) == ("index", "pending")
    again = client.post("/api/v2/collections", json={"name": "Docs"}, headers=headers)
    assert again.status_code == 409


def test_a_sparse_index_is_on_unless_asked_off_and_shown_as_semantik_defines_it(client) -> None:
    headers = auth_headers(client, "alice")
    default = create_collection(client, headers, "default")
    assert default["sparse_index_config"] == {
        "enabled": True,
        "plugin_id": "bm25-local",
        "model_config_data": {"k1": 1.2, "b": 0.75},
    }
    tuned = create_collection(client, headers, "tuned", sparse_index_config={"model_config_data": {"b": 0.5}})
    assert tuned["sparse_index_config"]["model_config_data"] == {"k1": 1.2, "b": 0.5}
    for name, config in (("off", {"enabled": False}), ("none", None)):
        created = create_collection(client, headers, name, sparse_index_config=config)
        assert created["sparse_index_config"] is None
        shown = client.get(f"/api/v2/collections/{created['id']}", headers=headers).json()
        assert shown["sparse_index_config"] is None


def test_a_reindex_override_of_the_sparse_index_is_checked_at_once(client) -> None:
    headers = auth_headers(client, "alice")
    collection = create_collection(client, headers)
    finish_operations(collection["id"])
    url = f"/api/v2/collections/{collection['id']}/reindex"
    bad = client.post(url, json={"sparse_index_config": {"model_config_data": {"b": 2}}}, headers=headers)
    assert bad.status_code == 400
    assert "invalid sparse_index_config: model_config_data.b" in bad.json()["detail"]
    accepted = client.post(url, json={"sparse_index_config": None}, headers=headers)
    assert accepted.status_code == 202 and accepted.json()["config"] == {"sparse_index_config": None}


def test_private_collection_of_another_user_is_403_and_hidden(client) -> None:
    alice = auth_headers(client, "alice")
    private = create_collection(client, alice, "alice-private")
    public = create_collection(client, alice, "alice-public", is_public=True)
    bob = auth_headers(client, "bob")
    assert client.get(f"/api/v2/collections/{private['id']}", headers=bob).status_code == 403
    assert client.get(f"/api/v2/collections/{public['id']}", headers=bob).status_code == 200
    names = [c["name"] for c in client.get("/api/v2/collections", headers=bob).json()["collections"]]
    assert names == ["alice-public"]
    assert (
        client.put(
            f"/api/v2/collections/{public['id']}", json={"description": "mine"}, headers=bob
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v2/collections/{public['id']}", headers=bob).status_code == 403


def test_unknown_collection_is_404(client) -> None:
    headers = auth_headers(client, "alice")
    response = client.get("/api/v2/collections/00000000-0000-0000-0000-000000000000", headers=headers)
    assert response.status_code == 404
    assert response.json()["reference"].startswith("ERR-")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "bad/name"},
        {"name": ""},
        {"name": "x", "chunk_size": 99},
        {"name": "x", "chunk_size": 200, "chunk_overlap": 200},
        {"name": "x", "quantization": "int4"},
        {"name": "x", "chunking_strategy": "magic"},
        {"name": "x", "sync_mode": "continuous"},
        {"name": "x", "sync_mode": "continuous", "sync_interval_minutes": 5},
        {"name": "x", "owner_id": 7},
        {"name": "x", "sparse_index_config": {"plugin_id": "splade-local"}},
        {"name": "x", "sparse_index_config": {"model_config_data": {"k1": 9}}},
        {"name": "x", "sparse_index_config": {"model_config_data": {"stemmer": "none"}}},
        {"name": "x", "sparse_index_config": {"enabled": True, "surprise": 1}},
    ],
)
def test_bad_payloads_are_422(client, body: dict) -> None:
    headers = auth_headers(client, "alice")
    assert client.post("/api/v2/collections", json=body, headers=headers).status_code == 422


def test_update_and_delete(client) -> None:
    headers = auth_headers(client, "alice")
    created = create_collection(client, headers)
    operation_id = created["initial_operation_id"]
    assert client.delete(f"/api/v2/collections/{created['id']}", headers=headers).status_code == 409
    assert (
        client.delete(f"/api/v2/operations/{operation_id}", headers=headers).json()["status"] == "cancelled"
    )
    updated = client.put(
        f"/api/v2/collections/{created['id']}",
        json={"description": "new", "metadata": {"team": "ops"}},
        headers=headers,
    )
    assert updated.status_code == 200
    assert (updated.json()["description"], updated.json()["metadata"]) == ("new", {"team": "ops"})
    assert client.delete(f"/api/v2/collections/{created['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v2/collections/{created['id']}", headers=headers).status_code == 404


def test_sources_append_remove_and_busy_rules(client, documents_root) -> None:
    (documents_root / "handbook").mkdir(exist_ok=True)
    headers = auth_headers(client, "alice")
    collection = create_collection(client, headers)
    url = f"/api/v2/collections/{collection['id']}/sources"
    body = {"source_path": str(documents_root / "handbook")}
    assert client.post(url, json=body, headers=headers).status_code == 409  # the index operation is active
    finish_operations(collection["id"])
    appended = client.post(url, json=body, headers=headers)
    assert appended.status_code == 202
    assert (appended.json()["type"], appended.json()["config"]["source_path"]) == (
        "append",
        str((documents_root / "handbook").resolve()),
    )
    assert (
        client.get(f"/api/v2/collections/{collection['id']}", headers=headers).json()["status"]
        == "processing"
    )
    assert client.post(url, json=body, headers=headers).status_code == 409
    sources = client.get(url, headers=headers).json()
    assert (sources["total"], sources["items"][0]["source_type"]) == (1, "directory")
    operations = client.get(f"/api/v2/collections/{collection['id']}/operations", headers=headers).json()
    assert [op["type"] for op in operations] == ["append", "index"]
    finish_operations(collection["id"])
    path = sources["items"][0]["source_path"]
    removed = client.delete(url, params={"source_path": path}, headers=headers)
    assert (removed.status_code, removed.json()["type"]) == (202, "remove_source")
    assert client.delete(url, params={"source_path": "/nope"}, headers=headers).status_code == 404
    documents = client.get(f"/api/v2/collections/{collection['id']}/documents", headers=headers).json()
    assert documents["total"] == 0
    assert (
        client.get(
            f"/api/v2/collections/{collection['id']}/documents", params={"status": "bogus"}, headers=headers
        ).status_code
        == 400
    )


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("{root}/../etc", "must not contain '..'"),
        ("/etc", "outside the allowed roots"),
        ("{root}/escape", "through a symlink"),
        ("{root}/nowhere", "does not exist"),
    ],
)
def test_source_paths_that_escape_are_400(client, documents_root, path: str, reason: str) -> None:
    escape = documents_root / "escape"
    if not escape.is_symlink():
        escape.symlink_to("/etc")
    headers = auth_headers(client, "alice")
    collection = create_collection(client, headers)
    response = client.post(
        f"/api/v2/collections/{collection['id']}/sources",
        json={"source_type": "directory", "source_config": {"path": path.format(root=documents_root)}},
        headers=headers,
    )
    assert response.status_code == 400
    assert reason in response.json()["detail"]


def test_unsupported_source_type_is_400(client, documents_root) -> None:
    headers = auth_headers(client, "alice")
    collection = create_collection(client, headers)
    response = client.post(
        f"/api/v2/collections/{collection['id']}/sources",
        json={"source_type": "imap", "source_config": {"path": str(documents_root)}},
        headers=headers,
    )
    assert response.status_code == 400
    assert "imap" in response.json()["detail"]
