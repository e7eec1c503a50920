from factories import api_key_headers, auth_headers, create_collection, finish_operations


def test_list_filter_get_and_cancel(client) -> None:
    headers = auth_headers(client, "alice")
    first = create_collection(client, headers, "one")
    finish_operations(first["id"])
    second = create_collection(client, headers, "two")
    listed = client.get("/api/v2/operations", headers=headers).json()
    assert listed["total"] == 2
    assert listed["operations"][0]["id"] == second["initial_operation_id"]  # newest first
    pending = client.get(
        "/api/v2/operations", params={"status": "pending,processing"}, headers=headers
    ).json()
    assert [op["id"] for op in pending["operations"]] == [second["initial_operation_id"]]
    cancelled = client.delete(f"/api/v2/operations/{second['initial_operation_id']}", headers=headers)
    assert cancelled.json()["status"] == "cancelled"
    again = client.delete(f"/api/v2/operations/{second['initial_operation_id']}", headers=headers)
    assert again.status_code == 400
    assert "cancelled" in again.json()["detail"]


def test_bad_filters_are_400_and_strangers_get_403(client) -> None:
    alice = auth_headers(client, "alice")
    collection = create_collection(client, alice)
    assert client.get("/api/v2/operations", params={"status": "done"}, headers=alice).status_code == 400
    assert client.get("/api/v2/operations", params={"operation_type": "x"}, headers=alice).status_code == 400
    bob = auth_headers(client, "bob")
    url = f"/api/v2/operations/{collection['initial_operation_id']}"
    assert client.get(url, headers=bob).status_code == 403
    assert client.delete(url, headers=bob).status_code == 403
    assert (
        client.get("/api/v2/operations/00000000-0000-0000-0000-000000000000", headers=bob).status_code == 404
    )
    assert client.get("/api/v2/operations/not-a-uuid", headers=bob).status_code == 422


def test_enqueue_with_redis_down_fails_the_operation_with_a_reason(client, redis_server) -> None:
    headers = api_key_headers(client)
    redis_server.stop()
    try:
        response = client.post("/api/v2/collections", json={"name": "offline"}, headers=headers)
    finally:
        redis_server.start()
    assert response.status_code == 503
    assert "Redis" in response.json()["detail"]
    failed = client.get("/api/v2/operations", headers=headers).json()["operations"][0]
    assert (failed["status"], failed["error_message"]) == (
        "failed",
        "task queue unavailable; nothing was changed",
    )


def test_operations_name_the_worker_host_null_until_a_worker_started_them(client) -> None:
    from sqlalchemy import update

    from semantik.shared.db import session_scope
    from semantik.shared.models import Operation

    headers = auth_headers(client, "hosts")
    collection = create_collection(client, headers, "hosts")
    uuid = collection["initial_operation_id"]
    assert client.get(f"/api/v2/operations/{uuid}", headers=headers).json()["worker_host"] is None
    with session_scope() as session:
        session.execute(update(Operation).where(Operation.uuid == uuid).values(worker_host="worker-7.lan"))

    assert client.get(f"/api/v2/operations/{uuid}", headers=headers).json()["worker_host"] == "worker-7.lan"
    listed = client.get("/api/v2/operations", headers=headers).json()["operations"]
    assert [(op["id"], op["worker_host"]) for op in listed] == [(uuid, "worker-7.lan")]
    of_collection = client.get(f"/api/v2/collections/{collection['id']}/operations", headers=headers).json()
    assert [(op["id"], op["worker_host"]) for op in of_collection] == [(uuid, "worker-7.lan")]
