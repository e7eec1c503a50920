"""One running operation per collection, held as a PostgreSQL session-level advisory lock.

The lock lives on a connection of its own: when the worker process dies (SIGKILL, OOM, a lost
host), PostgreSQL drops the connection and with it the lock, so "processing and unlocked" reliably
means "nobody is working on it any more" — the test for an orphaned operation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from semantik.shared.db import get_engine


def lock_key(collection_id: str) -> int:
    digest = hashlib.sha256(f"semantik-collection:{collection_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def collection_lock(collection_id: str) -> Iterator[bool]:
    """Yields whether this process now holds the collection's lock (it never waits)."""
    connection = get_engine().connect()
    held = False
    try:
        key = lock_key(collection_id)
        held = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
        connection.commit()
        yield held
    finally:
        try:
            if held:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
        except Exception:
            connection.invalidate()  # a pooled connection must never keep a lock
        connection.close()


def is_locked(collection_id: str) -> bool:
    with collection_lock(collection_id) as held:
        return not held
