"""Snapshot files of the embedded store: a tar of one shard directory plus a sha256 sidecar.

The engine's own ``EdgeShard.unpack_snapshot`` reads these archives back, so a restore goes through
the engine rather than through hand-made file copies. The sidecar follows the Qdrant server's
``<snapshot>.checksum`` convention, so a backup can verify a file without opening it.

The archive is written by GNU tar with ``--sparse``: the engine preallocates its WAL and storage
files (about 150 MB apparent, 250 KB real for an empty shard), and Python's tarfile would store
every hole as zeros. The engine's unpacker reads GNU sparse entries and writes holes back.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from semantik.shared.errors import ValidationError
from semantik.vecpipe.store.base import SnapshotInfo, VectorStoreError

CHECKSUM_SUFFIX = ".checksum"


def sha256_of(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_snapshot(shard_dir: Path, target_dir: Path, collection: str) -> SnapshotInfo:
    """Archive ``shard_dir`` (flushed, and not written to meanwhile) into ``target_dir``."""
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H-%M-%S-%f")
    final = target_dir / f"{collection}-{stamp}.snapshot"
    partial = final.with_suffix(".partial")
    command = ["tar", "--sparse", "--create", "--file", str(partial), "--directory", str(shard_dir), "."]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "stderr", None) or error
        raise VectorStoreError(f"could not write snapshot of '{collection}': {reason}") from error
    checksum = sha256_of(partial)
    # The archive appears under its final name only when complete, and its checksum with it.
    os.replace(partial, final)
    Path(f"{final}{CHECKSUM_SUFFIX}").write_text(checksum + "\n")
    return describe(final)


def describe(path: Path) -> SnapshotInfo:
    sidecar = Path(f"{path}{CHECKSUM_SUFFIX}")
    stat = path.stat()
    return SnapshotInfo(
        name=path.name,
        size=stat.st_size,
        created_at=datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
        checksum=sidecar.read_text().strip() if sidecar.exists() else None,
    )


def list_snapshots(target_dir: Path) -> list[SnapshotInfo]:
    if not target_dir.is_dir():
        return []
    return [describe(path) for path in sorted(target_dir.glob("*.snapshot"))]


def verify(path: Path) -> None:
    """Refuse a snapshot whose bytes differ from the checksum written with it."""
    expected = describe(path).checksum
    if expected is None:
        raise ValidationError(f"snapshot '{path.name}' has no checksum file; refusing to restore it")
    actual = sha256_of(path)
    if actual != expected:
        raise ValidationError(
            f"snapshot '{path.name}' is corrupt: sha256 {actual} does not match recorded {expected}"
        )
