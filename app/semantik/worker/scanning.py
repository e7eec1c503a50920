"""Listing a directory source: which files there are and which of them must not be read.

A file is refused before anything reads it when it is too large or when it is a symlink that leads
outside DOCUMENT_ALLOWED_ROOTS; refused files still become (failed) documents, so the operator sees
why they are missing. Hidden entries (``.git``, editor swap files) are not documents and are skipped.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Refusal:
    category: str
    message: str


@dataclass(frozen=True)
class FoundFile:
    path: str
    size: int
    refusal: Refusal | None = None

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


@dataclass(frozen=True)
class FileContent:
    data: bytes
    content_hash: str


class RefusedRead(Exception):
    def __init__(self, refusal: Refusal):
        super().__init__(refusal.message)
        self.refusal = refusal


def _inside(path: str, roots: list[Path]) -> bool:
    return any(Path(path).is_relative_to(root.resolve()) for root in roots)


def _too_large(size: int, max_bytes: int) -> Refusal | None:
    if size <= max_bytes:
        return None
    return Refusal("too_large", f"{size} bytes is over the {max_bytes}-byte limit (MAX_DOCUMENT_SIZE_MB)")


def _examine(path: str, roots: list[Path], max_bytes: int) -> FoundFile | None:
    """What the scan records for one directory entry; None for entries that are not files."""
    try:
        link = os.lstat(path)
        if stat.S_ISLNK(link.st_mode):
            target = os.path.realpath(path)
            if not _inside(target, roots):
                return FoundFile(
                    path,
                    0,
                    Refusal("outside_allowed_roots", f"symlink to {target}, outside the allowed roots"),
                )
        info = os.stat(path)
    except FileNotFoundError:
        return FoundFile(path, 0, Refusal("unreadable", "broken symlink or the file vanished"))
    except OSError as error:
        return FoundFile(path, 0, Refusal("unreadable", f"cannot stat: {error.strerror}"))
    if not stat.S_ISREG(info.st_mode):
        return None  # directories behind symlinks are not followed; FIFOs and devices never read
    return FoundFile(path, info.st_size, _too_large(info.st_size, max_bytes))


def scan_directory(root: Path, *, recursive: bool, roots: list[Path], max_bytes: int) -> list[FoundFile]:
    """Every file under ``root`` (symlinked directories not followed), sorted by path."""
    found: list[FoundFile] = []
    for directory, subdirectories, names in os.walk(root, followlinks=False):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith(".")) if recursive else []
        for name in names:
            if name.startswith("."):
                continue
            entry = _examine(os.path.join(directory, name), roots, max_bytes)
            if entry is not None:
                found.append(entry)
    return sorted(found, key=lambda entry: entry.path)


def read_file(found: FoundFile, max_bytes: int) -> FileContent:
    """The file's bytes and sha256; RefusedRead when it cannot or must not be read."""
    if found.refusal is not None:
        raise RefusedRead(found.refusal)
    try:
        with open(found.path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise RefusedRead(Refusal("unreadable", f"cannot read: {error.strerror}")) from None
    refusal = _too_large(len(data), max_bytes)  # it grew since the scan
    if refusal is not None:
        raise RefusedRead(refusal)
    return FileContent(data, hashlib.sha256(data).hexdigest())
