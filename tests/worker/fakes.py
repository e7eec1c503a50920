"""An in-memory stand-in for vecpipe's vector API, for tests of the worker's service functions.

It keeps points by id, as the real store does, so a test that counts points sees duplicates (two
ids for one chunk) and leftovers (points of deleted documents). Hooks let a test fail or cancel
an operation at a chosen call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from semantik.shared.errors import EntityNotFoundError

DIMENSION = 8


def fake_vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [byte / 255 for byte in digest[:DIMENSION]]


class FakeVectors:
    def __init__(self) -> None:
        self.collections: dict[str, dict[str, dict[str, Any]]] = {}
        self.calls: list[str] = []
        self.before_upsert: Callable[[int], None] | None = None
        self.embedded_texts = 0
        self.sparse: set[str] = set()  # the collections made with a sparse index

    def create_collection(self, name: str, *, sparse_index: bool = False) -> dict[str, Any]:
        self.calls.append(f"create {name}")
        self.collections.setdefault(name, {})
        if sparse_index:
            self.sparse.add(name)
        return {"name": name}

    def delete_collection(self, name: str) -> None:
        self.calls.append(f"delete {name}")
        if self.collections.pop(name, None) is None:
            raise EntityNotFoundError("Vector collection", name)

    def _points(self, name: str) -> dict[str, dict[str, Any]]:
        if name not in self.collections:
            raise EntityNotFoundError("Vector collection", name)
        return self.collections[name]

    def embed(self, texts: list[str], *, mode: str = "document", batch_size: int = 32) -> list[list[float]]:
        assert 1 <= len(texts) <= 1000, len(texts)
        self.embedded_texts += len(texts)
        return [fake_vector(text) for text in texts]

    def upsert(self, collection: str, points: list[dict[str, Any]], *, wait: bool = True) -> int:
        assert 1 <= len(points) <= 1000
        upserts = sum(call.startswith("upsert") for call in self.calls)
        self.calls.append(f"upsert {collection} {len(points)}")
        if self.before_upsert is not None:
            self.before_upsert(upserts)
        stored = self._points(collection)
        for point in points:
            assert len(point["vector"]) == DIMENSION
            assert ("sparse_vector" in point) == (collection in self.sparse), "sparse vectors as created"
            stored[point["id"]] = point
        return len(points)

    def delete_points(self, collection: str, doc_ids: list[str]) -> None:
        self.calls.append(f"delete_points {collection} {len(doc_ids)}")
        stored = self._points(collection)
        doomed = set(doc_ids)
        for point_id in [pid for pid, point in stored.items() if point["payload"]["doc_id"] in doomed]:
            del stored[point_id]

    def count(self, name: str) -> int:
        return len(self.collections[name])

    def doc_ids(self, name: str) -> set[str]:
        return {point["payload"]["doc_id"] for point in self.collections[name].values()}

    def close(self) -> None:
        pass
