"""The embedded store (qdrant-edge) directly: ownership, persistence, indexing, snapshots, threads."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from semantik.shared.errors import ValidationError
from semantik.vecpipe.store import archive, shards
from semantik.vecpipe.store.base import (
    CollectionNotFoundError,
    StoredPoint,
    StoreUnavailableError,
    VectorQuery,
    VectorStoreError,
)
from semantik.vecpipe.store.edge import EdgeStore


def _points(start: int, count: int, doc: str = "d", size: int = 4) -> list[StoredPoint]:
    return [
        StoredPoint(
            i,
            [float(i % 7) + 1.0, 1.0, float(i % 3), 0.5][:size],
            {"doc_id": f"{doc}{i % 5}", "chunk_id": str(i)},
        )
        for i in range(start, start + count)
    ]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EdgeStore]:
    opened = EdgeStore(tmp_path / "qdrant")
    yield opened
    opened.close()


def test_a_second_owner_of_the_store_is_refused(store: EdgeStore) -> None:
    store.create_collection("col", 4)
    with pytest.raises(
        StoreUnavailableError, match="open in another process; an embedded store belongs to one"
    ):
        EdgeStore(store.root)


def test_points_survive_a_close_and_reopen(tmp_path: Path) -> None:
    first = EdgeStore(tmp_path / "q")
    first.create_collection("col", 4)
    first.upsert("col", _points(0, 10), wait=False)
    first.close()
    second = EdgeStore(tmp_path / "q")
    try:
        assert second.list_collections() == ["col"]
        assert second.collection_info("col").points_count == 10
        assert second.collection_info("col").vector_size == 4
    finally:
        second.close()


def test_filters_match_values_and_lists(store: EdgeStore) -> None:
    store.create_collection("col", 4)
    store.upsert("col", _points(0, 20))
    assert store.count("col", {"doc_id": "d1"}) == 4
    assert store.count("col", {"doc_id": ["d1", "d2"]}) == 8
    assert store.count("col", {"chunk_id": "3"}) == 1
    hits = store.search("col", VectorQuery([1.0, 1.0, 0.0, 0.5]), 50, {"doc_id": ["d3"]})
    assert {hit.payload["doc_id"] for hit in hits} == {"d3"} and len(hits) == 4


def test_nested_metadata_and_boolean_filters(store: EdgeStore) -> None:
    store.create_collection("col", 2)
    payloads = [
        {"doc_id": "a", "metadata": {"lang": "en", "draft": True}},
        {"doc_id": "b", "metadata": {"lang": "de", "draft": False}},
    ]
    store.upsert("col", [StoredPoint(i, [1.0, float(i)], p) for i, p in enumerate(payloads)])
    assert [
        hit.payload["doc_id"]
        for hit in store.search("col", VectorQuery([1.0, 0.0]), 5, {"metadata.lang": "de"})
    ] == ["b"]
    assert store.count("col", {"metadata.lang": ["en", "de"]}) == 2


def test_the_edge_binding_still_turns_booleans_into_integers() -> None:
    """Why filters refuse booleans; when this fails, the binding is fixed and they can be allowed."""
    import qdrant_edge

    assert qdrant_edge.MatchValue(True).value == 1 and type(qdrant_edge.MatchValue(True).value) is int


def test_uuid_ids_come_back_as_strings(store: EdgeStore) -> None:
    store.create_collection("col", 2)
    point_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    store.upsert("col", [StoredPoint(point_id, [1.0, 0.0], {"doc_id": "d", "chunk_id": "c"})])
    assert store.search("col", VectorQuery([1.0, 0.0]), 1)[0].id == point_id


class CountingShard:
    """Stands in front of an EdgeShard (a Rust object that cannot be patched) to count optimize calls."""

    def __init__(self, shard: object):
        self.shard, self.optimized = shard, 0

    def optimize(self) -> bool:
        self.optimized += 1
        return self.shard.optimize()

    def __getattr__(self, name: str) -> object:
        return getattr(self.shard, name)


def test_the_index_is_built_once_enough_points_are_unindexed(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "q", optimize_after=30)
    try:
        store.create_collection("col", 4)
        counting = CountingShard(store._collections["col"].shard)
        store._collections["col"].shard = counting
        store.upsert("col", _points(0, 20))
        assert counting.optimized == 0
        store.upsert("col", _points(20, 15))
        assert counting.optimized == 1
        assert store.count("col") == 35
    finally:
        store.close()


def test_unknown_collections_raise_not_found(store: EdgeStore) -> None:
    for call in (
        lambda: store.count("nope"),
        lambda: store.search("nope", VectorQuery([1.0]), 1),
        lambda: store.upsert("nope", _points(0, 1)),
        lambda: store.delete_collection("nope"),
        lambda: store.create_snapshot("nope"),
        lambda: store.list_snapshots("nope"),
    ):
        with pytest.raises(CollectionNotFoundError):
            call()


def test_a_corrupt_snapshot_is_refused(store: EdgeStore) -> None:
    store.create_collection("col", 4)
    store.upsert("col", _points(0, 5))
    made = store.create_snapshot("col")
    path = store.root / "snapshots" / "col" / made.name
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValidationError, match="is corrupt: sha256"):
        store.restore_snapshot("col", made.name)
    assert store.count("col") == 5  # the live collection is untouched


def test_snapshots_are_sparse_and_checksummed(store: EdgeStore) -> None:
    store.create_collection("col", 4)
    made = store.create_snapshot("col")
    path = store.root / "snapshots" / "col" / made.name
    assert made.size < 5 * 1024 * 1024  # the engine preallocates ~150 MB of holes per shard
    assert made.checksum == archive.sha256_of(path)
    assert (path.parent / f"{made.name}.checksum").read_text().strip() == made.checksum


def test_an_interrupted_restore_is_settled_at_start(tmp_path: Path) -> None:
    first = EdgeStore(tmp_path / "q")
    first.create_collection("col", 4)
    first.upsert("col", _points(0, 3))
    first.close()
    shards = tmp_path / "q" / "collections"
    (shards / "col").rename(shards / ".old-col")  # as if the crash came mid-swap
    (shards / ".restore-other").mkdir()
    second = EdgeStore(tmp_path / "q")
    try:
        assert second.count("col") == 3
        assert sorted(path.name for path in shards.iterdir()) == ["col"]
    finally:
        second.close()


def test_engine_failures_keep_the_engines_words() -> None:
    with (
        pytest.raises(VectorStoreError, match="embedded store could not search: boom"),
        shards.engine_errors("search"),
    ):
        raise Exception("boom")


class SlowShard:
    """A shard whose queries wait for a signal, to hold a search in flight while a restore starts."""

    def __init__(self, shard: object):
        self.shard, self.querying, self.closed_while_querying = shard, False, False
        self.in_query, self.release = threading.Event(), threading.Event()

    def query(self, request: object) -> object:
        self.querying = True
        self.in_query.set()
        self.release.wait(10)
        try:
            return self.shard.query(request)
        finally:
            self.querying = False

    def close(self) -> None:
        self.closed_while_querying |= self.querying
        self.shard.close()

    def __getattr__(self, name: str) -> object:
        return getattr(self.shard, name)


def test_a_restore_waits_for_the_search_in_flight(store: EdgeStore) -> None:
    store.create_collection("col", 4)
    store.upsert("col", _points(0, 10))
    snapshot = store.create_snapshot("col").name
    slow = SlowShard(store._collections["col"].shard)
    store._collections["col"].shard = slow
    found: list[int] = []
    search = threading.Thread(
        target=lambda: found.append(len(store.search("col", VectorQuery([1.0, 1.0, 1.0, 1.0]), 3)))
    )
    restore = threading.Thread(target=store.restore_snapshot, args=("col", snapshot))
    search.start()
    assert slow.in_query.wait(10)
    restore.start()
    restore.join(0.5)
    assert restore.is_alive()  # the restore waits while the search holds the collection
    slow.release.set()
    search.join(10)
    restore.join(10)
    assert (found, slow.closed_while_querying, store.count("col")) == ([3], False, 10)


def test_searches_and_upserts_run_beside_snapshots_and_restores(store: EdgeStore) -> None:
    store.create_collection("col", 4)
    store.upsert("col", _points(0, 50))
    snapshot = store.create_snapshot("col").name
    errors: list[BaseException] = []
    stop = threading.Event()

    def keep_searching() -> None:
        while not stop.is_set():
            try:
                assert len(store.search("col", VectorQuery([1.0, 1.0, 1.0, 0.5]), 5)) == 5
            except BaseException as error:  # any failure in a thread must reach the test
                errors.append(error)
                return

    def keep_upserting(offset: int) -> None:
        try:
            for batch in range(10):
                store.upsert("col", _points(1000 * offset + batch * 10, 10), wait=False)
        except BaseException as error:
            errors.append(error)

    searchers = [threading.Thread(target=keep_searching) for _ in range(3)]
    writers = [threading.Thread(target=keep_upserting, args=(n,)) for n in (1, 2)]
    for thread in searchers + writers:
        thread.start()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a missing lock shows
    try:
        for _ in range(15):
            store.restore_snapshot("col", snapshot)
        store.create_snapshot("col")
    finally:
        sys.setswitchinterval(switch)
    for thread in writers:
        thread.join()
    stop.set()
    for thread in searchers:
        thread.join()
    assert errors == []
    assert 50 <= store.count("col") <= 250
