"""Bad files become failed documents with a reason; the operation around them completes."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from semantik.shared.models import CollectionStatus, DocumentStatus, OperationStatus, OperationType
from semantik.worker.operations import run_operation
from worker import helpers

DATA = Path(__file__).parents[1] / "data" / "sample_docs"
FIFTY_MB = 50 * 1024 * 1024


def write_bad_documents(folder: Path, outside: Path) -> None:
    (folder / "garbage.txt").write_bytes(os.urandom(4096))
    (folder / "cyrillic.txt").write_bytes("Привет, как дела? Это текст по-русски.\n".encode("cp1251"))
    (folder / "empty.txt").write_bytes(b"")
    line = b"a perfectly readable line of text, repeated until the file is far too large\n"
    with open(folder / "huge.txt", "wb") as handle:
        handle.write(line * (FIFTY_MB // len(line) + 1))
    pdf = (DATA / "tides.pdf").read_bytes()
    (folder / "broken.pdf").write_bytes(pdf[: len(pdf) // 3])
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text("a file outside every allowed root\n")
    (folder / "escape.txt").symlink_to(outside / "secret.txt")
    (folder / "picture.bmp").write_bytes(b"BM" + bytes(200))
    (folder / "good.txt").write_text("This file is fine and should be indexed.\n")
    (folder / "good.md").write_text("# Fine\n\nSo is this Markdown file.\n")
    (folder / "rotation.docx").write_bytes((DATA.parent / "office" / "rotation.docx").read_bytes())
    (folder / "THANKS").write_text("Thanks to everyone who reported a bad document.\n")
    (folder / "latin1.txt").write_bytes(
        "Caf\xe9 cr\xe8me br\xfbl\xe9e: Latin-1 is read too.\n".encode("latin-1")
    )
    (folder / "changelog.gz").write_bytes(gzip.compress(b"semantik (0.3.0): gzip-compressed text is read.\n"))
    # 22 MiB inflated, in 22 KB: over the 20 MiB the test sets, under the default 25.
    (folder / "zeros.txt.gz").write_bytes(gzip.compress(bytes(22 << 20)))


EXPECTED = {
    "garbage.txt": ("binary_content", "binary content"),
    "cyrillic.txt": ("invalid_encoding", "not valid UTF-8 at byte 0"),
    "empty.txt": ("empty", "the file is empty"),
    "huge.txt": ("too_large", "over the 20971520-byte limit"),
    "zeros.txt.gz": ("too_large", "inflates to more than the 20971520-byte limit"),
    "broken.pdf": ("parse_error", "unreadable PDF"),
    "escape.txt": ("symlink", "symlinks are not followed"),
    "picture.bmp": ("unsupported_type", "unsupported file type .bmp"),
}


def test_each_bad_document_fails_with_a_reason_and_the_rest_completes(
    settings, vectors, folder: Path, tmp_path: Path
) -> None:
    write_bad_documents(folder, tmp_path / "outside")
    assert os.path.getsize(folder / "huge.txt") > FIFTY_MB
    collection_id = helpers.make_collection(helpers.make_user(), status=CollectionStatus.PROCESSING)
    source_id = helpers.make_source(collection_id, folder)
    uuid = helpers.make_operation(collection_id, OperationType.APPEND, {"source_id": source_id})
    vectors.create_collection(helpers.collection(collection_id).vector_store_name)

    assert (
        run_operation(uuid, settings.model_copy(update={"max_document_size_mb": 20}), vectors) == "completed"
    )

    rows = helpers.documents(collection_id)
    failures = {
        name: (row.error_category, row.error_message)
        for name, row in rows.items()
        if row.status is DocumentStatus.FAILED
    }
    assert set(failures) == set(EXPECTED)
    for name, (category, fragment) in EXPECTED.items():
        assert failures[name][0] == category, (name, failures[name])
        assert fragment in failures[name][1], (name, failures[name])
    good = ("good.txt", "good.md", "latin1.txt", "THANKS", "rotation.docx", "changelog.gz")
    assert {rows[name].status for name in good} == {DocumentStatus.COMPLETED}
    assert rows["THANKS"].mime_type == rows["changelog.gz"].mime_type == "text/plain"
    operation = helpers.operation(uuid)
    assert operation.status is OperationStatus.COMPLETED
    assert (operation.documents_total, operation.documents_processed, operation.documents_failed) == (
        14,
        6,
        8,
    )
    collection = helpers.collection(collection_id)
    assert (collection.status, collection.document_count) == (CollectionStatus.READY, 6)
    assert vectors.count(collection.vector_store_name) == collection.vector_count == 6
