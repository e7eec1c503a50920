"""One embedded collection: an EdgeShard with its lock, and the helpers that speak to the engine."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import qdrant_edge as qe

from semantik.shared.errors import SemantikError
from semantik.vecpipe.store.base import Filters, StoreUnavailableError, VectorStoreError
from semantik.vecpipe.store.locks import ReadWriteLock


@contextmanager
def engine_errors(action: str) -> Iterator[None]:
    try:
        yield
    except SemantikError:
        raise  # already one of ours, with its own status
    except Exception as error:  # the bindings raise bare Exception; keep the engine's own words
        raise VectorStoreError(f"embedded store could not {action}: {error}") from error


def open_shard(path: Path) -> qe.EdgeShard:
    try:
        return qe.EdgeShard.load(str(path))
    except Exception as error:
        if "WouldBlock" in str(error):
            raise StoreUnavailableError(
                f"embedded store {path} is open in another process; an embedded store belongs to one "
                "vecpipe process (set QDRANT_HOST to share a Qdrant server instead)"
            ) from error
        raise VectorStoreError(f"embedded store could not open {path}: {error}") from error


def layout_of(path: Path) -> tuple[int, list[str]]:
    """The dense vector's size and the sparse vectors' names, from the engine's persisted
    configuration (edge_config.json, documented as such)."""
    config = json.loads((path / "edge_config.json").read_text())
    return int(config["vectors"][""]["size"]), sorted(config.get("sparse_vectors") or {})


def engine_filter(filters: Filters | None) -> qe.Filter | None:
    if not filters:
        return None
    conditions: list[qe.ConditionType] = [
        qe.FieldCondition(
            key=key, match=qe.MatchAny(value) if isinstance(value, list) else qe.MatchValue(value)
        )
        for key, value in filters.items()
    ]
    return qe.Filter(must=conditions)


class Collection:
    """One open shard; the wrapper outlives a restore, so waiting readers see the new shard."""

    def __init__(self, name: str, path: Path, shard: qe.EdgeShard):
        self.name, self.path, self.shard = name, path, shard
        self.vector_size, self.sparse_vectors = layout_of(path)
        self.lock = ReadWriteLock()
        self.writes = threading.Lock()
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.shard.close()
            self.closed = True

    def reopen(self) -> None:
        self.shard = open_shard(self.path)
        self.vector_size, self.sparse_vectors = layout_of(self.path)
        self.closed = False


def finish_interrupted_changes(shards_dir: Path) -> None:
    """A crash mid-restore or mid-delete leaves dot-directories; settle them before opening."""
    for path in shards_dir.glob(".*"):
        live = shards_dir / path.name.removeprefix(".old-")
        if path.name.startswith(".old-") and not live.exists():
            os.replace(path, live)  # the crash came between moving the old shard out and the new in
        else:
            shutil.rmtree(path, ignore_errors=True)
