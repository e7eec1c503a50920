"""Snapshots through the API: create, list, restore over changed data, restore a deleted collection."""

from __future__ import annotations

from fastapi.testclient import TestClient

from vecpipe.helpers import upsert_texts


def _count(api: TestClient, name: str) -> int:
    return api.get(f"/collections/{name}/count").json()["count"]


def test_snapshot_then_restore_brings_back_the_old_points(api: TestClient) -> None:
    api.post("/collections", json={"name": "col_snap"})
    upsert_texts(api, "col_snap", {"a": "alpha", "b": "beta"})
    made = api.post("/collections/col_snap/snapshots")
    assert made.status_code == 201
    snapshot = made.json()
    assert snapshot["name"].startswith("col_snap-") and snapshot["name"].endswith(".snapshot")
    assert snapshot["size"] > 0 and len(snapshot["checksum"]) == 64
    assert api.get("/collections/col_snap/snapshots").json() == {
        "collection_name": "col_snap",
        "snapshots": [snapshot],
    }
    api.post("/points/delete", json={"collection_name": "col_snap", "doc_ids": ["a"]})
    upsert_texts(api, "col_snap", {"c": "gamma", "d": "delta", "e": "epsilon"})
    assert _count(api, "col_snap") == 3  # ids 0-2 now hold c, d, e (a was deleted, b overwritten)
    restored = api.post(f"/collections/col_snap/snapshots/{snapshot['name']}/restore")
    assert restored.status_code == 200
    assert restored.json()["status"] == "restored"
    assert restored.json()["collection"]["points_count"] == 2
    hits = api.post("/search", json={"query": "alpha", "collection": "col_snap", "k": 1}).json()["results"]
    assert hits[0]["doc_id"] == "a"


def test_a_deleted_collection_comes_back_from_its_snapshot(api: TestClient) -> None:
    api.post("/collections", json={"name": "col_gone"})
    upsert_texts(api, "col_gone", {"a": "alpha"})
    name = api.post("/collections/col_gone/snapshots").json()["name"]
    api.delete("/collections/col_gone")
    assert api.get("/collections/col_gone").status_code == 404
    assert [s["name"] for s in api.get("/collections/col_gone/snapshots").json()["snapshots"]] == [name]
    assert api.post(f"/collections/col_gone/snapshots/{name}/restore").status_code == 200
    assert _count(api, "col_gone") == 1


def test_unknown_and_unsafe_snapshots_are_refused(api: TestClient) -> None:
    api.post("/collections", json={"name": "col_x"})
    missing = api.post("/collections/col_x/snapshots/col_x-1.snapshot/restore")
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": "Snapshot with ID 'col_x/col_x-1.snapshot' not found"},
    )
    unsafe = api.post("/collections/col_x/snapshots/..%2Fx.snapshot/restore")
    assert unsafe.json() == {"detail": "Not Found"}  # a decoded "/" never reaches the restore route
    assert api.post("/collections/col_x/snapshots/evil.tar/restore").status_code == 400
    assert api.get("/collections/col_none/snapshots").status_code == 404
    assert api.post("/collections/col_none/snapshots").status_code == 404
