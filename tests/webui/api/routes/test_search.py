from factories import auth_headers, create_collection, finish_operations


def _search(client, headers, ids, **extra):
    return client.post(
        "/api/v2/search", json={"collection_uuids": ids, "query": "backups", **extra}, headers=headers
    )


def test_vecpipe_down_is_503_naming_vecpipe(dead_vecpipe, client) -> None:
    headers = auth_headers(client, "alice")
    collection = create_collection(client, headers)
    finish_operations(collection["id"])
    response = _search(client, headers, [collection["id"]])
    assert response.status_code == 503
    assert "vecpipe unavailable" in response.json()["detail"]


def test_a_collection_that_is_not_ready_is_a_partial_failure(client) -> None:
    headers = auth_headers(client, "alice")
    pending = create_collection(client, headers, "pending")
    response = client.post(
        "/api/v2/search/single", json={"collection_id": pending["id"], "query": "x"}, headers=headers
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["partial_failure"], body["results"], body["api_version"]) == (True, [], "2.0")
    assert body["failed_collections"][0]["collection_name"] == "pending"
    assert "not ready" in body["failed_collections"][0]["error_message"]


def test_access_rules_and_bad_requests(client) -> None:
    alice = auth_headers(client, "alice")
    private = create_collection(client, alice, "private")
    bob = auth_headers(client, "bob")
    assert _search(client, bob, [private["id"]]).status_code == 403
    assert _search(client, bob, ["00000000-0000-0000-0000-000000000000"]).status_code == 404
    sparse = _search(client, alice, [private["id"]], search_mode="sparse")
    assert sparse.status_code == 422
    assert "only 'dense'" in str(sparse.json()["detail"])
    assert _search(client, alice, [private["id"]], k=0).status_code == 422
    assert _search(client, alice, [private["id"]], k=101).status_code == 422
    assert _search(client, alice, []).status_code == 422
    assert _search(client, alice, [private["id"]], query="").status_code == 422
    assert _search(client, alice, [private["id"]], surprise=True).status_code == 422


def test_reranker_request_without_a_reranker_is_a_warning(client) -> None:
    headers = auth_headers(client, "alice")
    pending = create_collection(client, headers)
    body = _search(client, headers, [pending["id"]], use_reranker=True).json()
    assert any("no reranker is configured" in warning for warning in body["warnings"])
