"""Listing a source: what is found, what is refused before it is read, what is skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from semantik.worker.scanning import RefusedRead, read_file, scan_directory


def test_scan_lists_files_sorted_and_refuses_what_must_not_be_read(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "b.txt").write_text("b")
    (root / "sub" / "a.md").write_text("a")
    (root / "big.txt").write_bytes(b"x" * 2000)
    (root / ".hidden.txt").write_text("h")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    (outside / "secret.txt").write_text("s")
    (root / "escape.txt").symlink_to(outside / "secret.txt")
    (root / "inside-link.txt").symlink_to(root / "b.txt")
    (root / "dangling.txt").symlink_to(root / "missing.txt")
    (root / "linked-dir").symlink_to(outside, target_is_directory=True)
    os.mkfifo(root / "pipe.txt")

    found = scan_directory(root, recursive=True, max_bytes=1000)

    by_name = {Path(entry.path).name: entry for entry in found}
    assert [Path(entry.path).name for entry in found] == sorted(by_name, key=lambda n: str(by_name[n].path))
    links = {"escape.txt", "inside-link.txt", "dangling.txt", "linked-dir"}
    assert set(by_name) == {"b.txt", "a.md", "big.txt", "pipe.txt", *links}
    for name in links:  # inside the root or not, a symlink is never followed
        assert by_name[name].refusal.category == "symlink", name
    assert by_name["pipe.txt"].refusal.category == "not_a_regular_file"
    assert by_name["big.txt"].refusal.category == "too_large"
    assert by_name["b.txt"].refusal is None and by_name["b.txt"].size == 1
    assert {entry.root for entry in found} == {str(root)}

    flat = scan_directory(root, recursive=False, max_bytes=1000)
    assert "a.md" not in {Path(entry.path).name for entry in flat}


def test_read_hashes_the_content_and_refuses_a_file_that_grew(tmp_path: Path) -> None:
    path = tmp_path / "doc.txt"
    path.write_text("hello")
    (entry,) = scan_directory(tmp_path, recursive=True, max_bytes=10)
    content = read_file(entry, 10)
    assert content.data == b"hello"
    assert content.content_hash == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    path.write_text("hello, and much more")
    with pytest.raises(RefusedRead) as refused:
        read_file(entry, 10)
    assert refused.value.refusal.category == "too_large"


def test_batches_close_on_count_or_on_the_bytes_they_would_hold() -> None:
    from semantik.worker.ingest import file_batches
    from semantik.worker.scanning import FoundFile, Refusal

    files = [FoundFile(f"/d/{n}", size, "/d") for n, size in enumerate([10, 10, 10, 50, 10, 10])]
    assert [len(batch) for batch in file_batches(files, 4, 1000)] == [4, 2]
    assert [len(batch) for batch in file_batches(files, 10, 40)] == [3, 1, 2]
    assert [len(batch) for batch in file_batches(files, 4, 1000, first=1)] == [1, 4, 1]
    refused = [FoundFile("/d/huge", 10**9, "/d", Refusal("too_large", "big")), *files[:2]]
    assert [len(batch) for batch in file_batches(refused, 10, 40)] == [3]  # never read: costs nothing
