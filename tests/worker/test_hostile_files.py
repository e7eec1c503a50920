"""Hostile files: symlinks, FIFOs, a directory swapped between scan and read, documents that would
multiply the work. Each becomes a failed document with a reason; the rest of the operation completes."""

from __future__ import annotations

import io
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from factories import auth_headers, create_collection, finish_operations
from semantik.shared.models import CollectionStatus, DocumentStatus, OperationStatus, OperationType
from semantik.worker import ingest
from semantik.worker.ingest import scan
from semantik.worker.operations import run_operation
from semantik.worker.parsing import ParseError, extract_text
from semantik.worker.scanning import RefusedRead, read_file, scan_directory
from worker import helpers

SECRET = "a secret outside every allowed root"
# Pure-Python HTML parsing of this takes about ten seconds uninterrupted.
SLOW_HTML = b"<div><p>word <b>x</b> y</p></div>\n" * 500_000


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()`` in a daemon thread; a call still blocked after ``seconds`` fails the test, not the run."""
    outcome: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as error:
            outcome.append((False, error))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still blocked after {seconds} s"
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return value


def release(fifo: Path) -> None:
    """Unblock a reader stuck opening the FIFO (a regression), so the test ends instead of hanging."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass  # nobody is waiting on it


def pdf_with_pages(count: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(width=72, height=72)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def start_append(folder: Path, **collection: Any) -> tuple[str, str]:
    collection_id = helpers.make_collection(
        helpers.make_user(), status=CollectionStatus.PROCESSING, **collection
    )
    source_id = helpers.make_source(collection_id, folder)
    return collection_id, helpers.make_operation(
        collection_id, OperationType.APPEND, {"source_id": source_id}
    )


def failures(collection_id: str) -> dict[str, tuple[str, str]]:
    rows = helpers.documents(collection_id).items()
    return {
        name: (row.error_category, row.error_message)
        for name, row in rows
        if row.status is DocumentStatus.FAILED
    }


def completed(collection_id: str) -> set[str]:
    rows = helpers.documents(collection_id).items()
    return {name for name, row in rows if row.status is DocumentStatus.COMPLETED}


def stored_texts(vectors, collection_id: str) -> str:
    name = helpers.collection(collection_id).vector_store_name
    return "\n".join(point["payload"]["content"] for point in vectors.collections[name].values())


def test_symlinks_and_fifos_are_failed_documents_never_read(
    settings, vectors, folder: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (folder / "good.txt").write_text("An ordinary file that is indexed.\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "nested.txt").write_text("A file in a real subdirectory.\n")
    (folder / "inside-link.txt").symlink_to(folder / "good.txt")
    (folder / "escape.txt").symlink_to(outside / "secret.txt")
    (folder / "linked-dir").symlink_to(outside, target_is_directory=True)
    (folder / "sub" / "inner-dir").symlink_to(folder / "sub", target_is_directory=True)
    os.mkfifo(folder / "pipe.txt")
    collection_id, uuid = start_append(folder)
    vectors.create_collection(helpers.collection(collection_id).vector_store_name)

    try:
        assert within(60, lambda: run_operation(uuid, settings, vectors)) == "completed"
    finally:
        release(folder / "pipe.txt")

    failed = failures(collection_id)
    assert set(failed) == {"inside-link.txt", "escape.txt", "linked-dir", "inner-dir", "pipe.txt"}
    for name in ("inside-link.txt", "escape.txt", "linked-dir", "inner-dir"):
        assert failed[name] == ("symlink", "a symlink; symlinks are not followed"), name
    assert failed["pipe.txt"][0] == "not_a_regular_file" and "FIFO" in failed["pipe.txt"][1]
    assert completed(collection_id) == {"good.txt", "nested.txt"}  # nothing found through a link
    assert SECRET not in stored_texts(vectors, collection_id)
    operation = helpers.operation(uuid)
    assert (operation.documents_total, operation.documents_processed, operation.documents_failed) == (7, 2, 5)


def test_a_directory_swapped_for_a_symlink_after_the_scan_is_refused_at_read(
    settings, vectors, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helpers.write_corpus(folder, 4, prefix="a")
    (folder / "sub").mkdir()
    (folder / "sub" / "doc.txt").write_text("Scanned here, then its directory is swapped.\n")
    (folder / "zz-last.txt").write_text("Read in the same batch as sub/doc.txt.\n")
    (tmp_path / "outside" / "sub").mkdir(parents=True)
    (tmp_path / "outside" / "sub" / "doc.txt").write_text(SECRET)
    collection_id, uuid = start_append(folder)
    vectors.create_collection(helpers.collection(collection_id).vector_store_name)

    def scan_then_swap(*args: Any) -> list:  # the file list is made; nothing is read yet
        found = scan(*args)
        (folder / "sub").rename(tmp_path / "moved-away")
        (folder / "sub").symlink_to(tmp_path / "outside" / "sub", target_is_directory=True)
        return found

    monkeypatch.setattr(ingest, "scan", scan_then_swap)
    assert run_operation(uuid, settings, vectors) == "completed"

    category, message = failures(collection_id)["doc.txt"]
    assert category == "symlink" and "'sub' became a symlink; symlinks are not followed" in message
    assert set(failures(collection_id)) == {"doc.txt"}
    assert completed(collection_id) == {"a-0000.txt", "a-0001.txt", "a-0002.txt", "a-0003.txt", "zz-last.txt"}
    assert SECRET not in stored_texts(vectors, collection_id)
    assert helpers.operation(uuid).status is OperationStatus.COMPLETED


def test_read_refuses_what_was_swapped_after_the_scan(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "doc.txt").write_text("doc")
    (root / "file.txt").write_text("file")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "doc.txt").write_text(SECRET)
    file, doc = scan_directory(root, recursive=True, max_bytes=100)
    assert (file.name, doc.name) == ("file.txt", "doc.txt") and read_file(doc, 100).data == b"doc"

    shutil.rmtree(root / "sub")
    (root / "sub").symlink_to(tmp_path / "elsewhere")
    (root / "file.txt").unlink()
    os.mkfifo(root / "file.txt")

    with pytest.raises(RefusedRead) as refused:
        read_file(doc, 100)
    assert refused.value.refusal.category == "symlink"
    with pytest.raises(RefusedRead) as refused:
        within(30, lambda: read_file(file, 100))  # opened without waiting for a writer
    assert refused.value.refusal.category == "not_a_regular_file"


def test_each_limit_fails_its_document_and_the_rest_completes(settings, vectors, folder: Path) -> None:
    (folder / "good.txt").write_text("A short document, well within every limit.\n")
    (folder / "tides.pdf").write_bytes(
        (Path(__file__).parents[1] / "data/sample_docs/tides.pdf").read_bytes()
    )
    helpers.write_corpus(folder, 1, words=2000, prefix="many")
    (folder / "pages.pdf").write_bytes(pdf_with_pages(4))
    (folder / "slow.html").write_bytes(SLOW_HTML)
    collection_id, uuid = start_append(folder, chunk_size=100, chunk_overlap=20)
    vectors.create_collection(helpers.collection(collection_id).vector_store_name)
    limits = {"max_chunks_per_document": 5, "max_pdf_pages": 3, "parse_timeout_seconds": 1.0}

    started = time.monotonic()
    assert run_operation(uuid, settings.model_copy(update=limits), vectors) == "completed"
    assert time.monotonic() - started < 8  # the slow parse was cut short

    failed = failures(collection_id)
    assert set(failed) == {"many-0000.txt", "pages.pdf", "slow.html"}
    assert failed["many-0000.txt"][0] == "too_many_chunks"
    assert "over the 5-chunk limit per document (MAX_CHUNKS_PER_DOCUMENT)" in failed["many-0000.txt"][1]
    assert failed["pages.pdf"] == ("too_many_pages", "4 pages is over the 3-page limit (MAX_PDF_PAGES)")
    assert failed["slow.html"] == ("parse_timeout", "parsing took longer than 1 s (PARSE_TIMEOUT_SECONDS)")
    assert completed(collection_id) == {"good.txt", "tides.pdf"}
    collection = helpers.collection(collection_id)
    assert vectors.count(collection.vector_store_name) == helpers.completed_chunks(collection_id)


def test_the_parse_deadline_interrupts_parsing_and_never_fires_after_it() -> None:
    previous = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    with pytest.raises(ParseError) as raised:
        extract_text(SLOW_HTML, "html", "slow.html", timeout=0.2)
    assert raised.value.category == "parse_timeout"
    assert time.monotonic() - started < 2  # interrupted, not checked after ten seconds of parsing

    assert extract_text(b"quick", "text", "quick.txt", timeout=0.05) == "quick"
    time.sleep(0.2)  # an alarm left armed would interrupt this sleep
    assert signal.getsignal(signal.SIGALRM) is previous
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_off_the_main_thread_the_deadline_holds_between_pdf_pages() -> None:
    pdf = pdf_with_pages(3)
    with pytest.raises(ParseError) as raised:
        within(30, lambda: extract_text(pdf, "pdf", "pages.pdf", timeout=1e-6))
    assert raised.value.category == "parse_timeout"


def test_chunk_overlap_over_half_of_chunk_size_is_refused(client) -> None:
    headers = auth_headers(client, "alice")
    body = {"name": "overlap", "chunk_size": 200, "chunk_overlap": 101}
    response = client.post("/api/v2/collections", json=body, headers=headers)
    assert response.status_code == 422
    assert "chunk_overlap must be at most half of chunk_size" in response.text
    created = create_collection(client, headers, chunk_size=200, chunk_overlap=100)

    finish_operations(created["id"])
    reindex = f"/api/v2/collections/{created['id']}/reindex"
    refused = client.post(reindex, json={"chunk_size": 300, "chunk_overlap": 151}, headers=headers)
    assert refused.status_code == 400
    assert "chunk_overlap must be at most half of chunk_size" in refused.json()["detail"]
    operations = client.get(f"/api/v2/collections/{created['id']}/operations", headers=headers).json()
    assert [operation["type"] for operation in operations] == ["index"]  # nothing was started
    accepted = client.post(reindex, json={"chunk_size": 300, "chunk_overlap": 150}, headers=headers)
    assert accepted.status_code == 202, accepted.text
