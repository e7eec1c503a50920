"""Listing a directory source: which files there are and which of them must not be read.

The source root is already its real path inside DOCUMENT_ALLOWED_ROOTS. Below it nothing is reached
through a symlink: the walk opens each directory relative to its parent with O_NOFOLLOW, and the read
opens the file again the same way, component by component, so a directory swapped for a symlink after
the scan is refused too. Symlinks, FIFOs, sockets and devices, unreadable and too large files are
refused; refused files still become (failed) documents, so the operator sees why they are missing.
Hidden entries (``.git``, editor swap files) are not documents and are skipped.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in after the scan opens at once instead of waiting for a writer.
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
MAX_DEPTH = 64  # directory levels below the source; each level holds one open descriptor
NOT_FOLLOWED = "a symlink; symlinks are not followed"


@dataclass(frozen=True)
class Refusal:
    category: str
    message: str


@dataclass(frozen=True)
class FoundFile:
    path: str  # absolute, as the database records it
    size: int
    root: str  # the source's real path, where the read starts again
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


def _too_large(size: int, max_bytes: int) -> Refusal | None:
    if size <= max_bytes:
        return None
    return Refusal("too_large", f"{size} bytes is over the {max_bytes}-byte limit (MAX_DOCUMENT_SIZE_MB)")


KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFDIR: "a directory",  # a file swapped for a directory after the scan
}


def _not_regular(mode: int) -> Refusal:
    kind = KINDS.get(stat.S_IFMT(mode), "a special file")
    return Refusal("not_a_regular_file", f"{kind}, not a regular file; it is not read")


@dataclass
class _Walk:
    root: str
    recursive: bool
    max_bytes: int
    found: list[FoundFile] = field(default_factory=list)

    def add(self, path: str, size: int = 0, refusal: Refusal | None = None) -> None:
        self.found.append(FoundFile(path, size, self.root, refusal))

    def directory(self, dir_fd: int, path: str, depth: int) -> None:
        for name in sorted(os.listdir(dir_fd)):
            if not name.startswith("."):
                self.entry(dir_fd, name, os.path.join(path, name), depth)

    def entry(self, dir_fd: int, name: str, path: str, depth: int) -> None:
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as error:
            self.add(path, refusal=Refusal("unreadable", f"cannot stat: {error.strerror}"))
            return
        if stat.S_ISREG(info.st_mode):
            self.add(path, info.st_size, _too_large(info.st_size, self.max_bytes))
        elif stat.S_ISLNK(info.st_mode):
            self.add(path, refusal=Refusal("symlink", NOT_FOLLOWED))
        elif not stat.S_ISDIR(info.st_mode):
            self.add(path, refusal=_not_regular(info.st_mode))
        elif self.recursive and depth >= MAX_DEPTH:
            self.add(path, refusal=Refusal("too_deep", f"more than {MAX_DEPTH} directory levels; not read"))
        elif self.recursive:
            try:
                child = os.open(name, DIRECTORY_FLAGS, dir_fd=dir_fd)
            except OSError as error:  # swapped for a symlink since the stat, or no permission
                self.add(path, refusal=_open_refusal(dir_fd, name, error))
                return
            try:
                self.directory(child, path, depth + 1)
            finally:
                os.close(child)


def scan_directory(root: Path, *, recursive: bool, max_bytes: int) -> list[FoundFile]:
    """Every file under ``root`` and every entry refused there, sorted by path."""
    walk = _Walk(str(root), recursive, max_bytes)
    fd = os.open(root, DIRECTORY_FLAGS)
    try:
        walk.directory(fd, str(root), 0)
    finally:
        os.close(fd)
    return sorted(walk.found, key=lambda entry: entry.path)


def _open_refusal(dir_fd: int, name: str, error: OSError) -> Refusal:
    """Why ``name`` could not be opened; O_NOFOLLOW on a symlink says ELOOP, or ENOTDIR with O_DIRECTORY."""
    if error.errno in (errno.ELOOP, errno.ENOTDIR):
        try:
            if stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                return Refusal("symlink", f"'{name}' became {NOT_FOLLOWED}")
        except OSError:
            pass
        return Refusal("changed_since_scan", f"'{name}' is no longer what the scan found")
    if error.errno == errno.ENOENT:
        return Refusal("unreadable", f"'{name}' vanished since the scan")
    return Refusal("unreadable", f"cannot open '{name}': {error.strerror}")


def _open_below(found: FoundFile) -> int:
    """A descriptor of the file, reached from the root without following any symlink."""
    *directories, name = Path(found.path).relative_to(found.root).parts
    fd = os.open(found.root, DIRECTORY_FLAGS)
    try:
        for directory in directories:
            try:
                child = os.open(directory, DIRECTORY_FLAGS, dir_fd=fd)
            except OSError as error:
                raise RefusedRead(_open_refusal(fd, directory, error)) from None
            os.close(fd)
            fd = child
        try:
            return os.open(name, FILE_FLAGS, dir_fd=fd)
        except OSError as error:
            raise RefusedRead(_open_refusal(fd, name, error)) from None
    finally:
        os.close(fd)


def read_file(found: FoundFile, max_bytes: int) -> FileContent:
    """The file's bytes and sha256; RefusedRead when it cannot or must not be read."""
    if found.refusal is not None:
        raise RefusedRead(found.refusal)
    try:
        fd = _open_below(found)
    except OSError as error:  # the root itself is gone or was swapped
        raise RefusedRead(Refusal("unreadable", f"cannot open the source: {error.strerror}")) from None
    with open(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # swapped for a FIFO or device since the scan
            raise RefusedRead(_not_regular(mode))
        try:
            data = handle.read(max_bytes + 1)
        except OSError as error:
            raise RefusedRead(Refusal("unreadable", f"cannot read: {error.strerror}")) from None
    refusal = _too_large(len(data), max_bytes)  # it grew since the scan
    if refusal is not None:
        raise RefusedRead(refusal)
    return FileContent(data, hashlib.sha256(data).hexdigest())
