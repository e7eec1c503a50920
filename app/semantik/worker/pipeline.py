"""One batch of files through read, hash, parse, chunk, embed and upsert; no database access here.

The caller records the outcomes. Vectors are written before the rows that describe them, and with
deterministic ids, so a crash between the two leaves the store ahead of the database by points that
the re-run overwrites, never by duplicates.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any, Protocol

from semantik.shared import sparse
from semantik.shared.models import DocumentStatus
from semantik.worker import chunking, ids, parsing
from semantik.worker.scanning import FoundFile, RefusedRead, read_file

UPSERT_LIMIT = 1000  # vecpipe's largest /upsert
# An /embed call's target length: windows are sized from the last call's rate so that progress moves
# every few seconds on a slow CPU, while a fast one still sends windows of up to INGEST_EMBED_BATCH.
WINDOW_SECONDS = 4.0
FIRST_WINDOW, SMALLEST_WINDOW = 32, 16


class VectorWriter(Protocol):
    def embed(self, texts: list[str], *, mode: str = ..., batch_size: int = ...) -> list[list[float]]: ...
    def upsert(self, collection: str, points: list[dict[str, Any]], *, wait: bool = ...) -> int: ...
    def delete_points(self, collection: str, doc_ids: list[str]) -> None: ...


class Progress(Protocol):
    """Hears a batch's work as it happens, so an operation's progress moves inside a batch."""

    def prepared(self, documents: int, chunks: int) -> None: ...
    def embedded(self, chunks: int) -> None: ...


@dataclass(frozen=True)
class Target:
    """Where a batch goes: the collection's rows and one of its vector collections."""

    collection_id: str
    vector_store_name: str
    chunk_size: int
    chunk_overlap: int
    max_bytes: int
    embed_batch: int
    max_chunks: int  # MAX_CHUNKS_PER_DOCUMENT
    max_pdf_pages: int  # MAX_PDF_PAGES
    parse_timeout: float  # PARSE_TIMEOUT_SECONDS
    bm25: tuple[float, float] | None = None  # (k1, b) when the collection has a sparse index


@dataclass(frozen=True)
class Known:
    """What the database already says about a path."""

    doc_id: str
    content_hash: str
    status: DocumentStatus
    chunk_count: int
    error_category: str | None = None
    error_message: str | None = None


@dataclass
class Outcome:
    file: FoundFile
    doc_id: str
    content_hash: str = ""
    mime_type: str | None = None
    status: DocumentStatus = DocumentStatus.FAILED
    chunk_count: int = 0
    error_category: str | None = None
    error_message: str | None = None
    unchanged: bool = False
    chunks: list[chunking.Chunk] = field(default_factory=list, repr=False)


def prepare(file: FoundFile, known: Known | None, target: Target, force: bool) -> Outcome:
    """Read, parse and chunk one file; an unchanged file (same sha256) is not parsed again."""
    doc_id = known.doc_id if known else ids.document_id(target.collection_id, file.path)
    kind = parsing.document_kind(file.path)
    outcome = Outcome(file, doc_id, mime_type=parsing.mime_type(kind, file.path))
    try:
        content = read_file(file, target.max_bytes)
    except RefusedRead as refused:
        outcome.error_category, outcome.error_message = refused.refusal.category, str(refused)
        return outcome
    outcome.content_hash = content.content_hash
    if known is not None and not force and known.content_hash == content.content_hash:
        outcome.status, outcome.chunk_count, outcome.unchanged = known.status, known.chunk_count, True
        outcome.error_category, outcome.error_message = known.error_category, known.error_message
        return outcome
    try:
        text = parsing.extract_text(
            content.data,
            kind,
            file.path,
            max_pdf_pages=target.max_pdf_pages,
            timeout=target.parse_timeout,
            max_bytes=target.max_bytes,
        )
        outcome.chunks = _chunks(text, target)
    except parsing.ParseError as error:
        outcome.error_category, outcome.error_message = error.category, str(error)
        return outcome
    if kind is None:  # no known type, but its content is text (parsing.unknown_type_text)
        outcome.mime_type = parsing.mime_type("text", file.path)
    outcome.status, outcome.chunk_count = DocumentStatus.COMPLETED, len(outcome.chunks)
    return outcome


def _chunks(text: str, target: Target) -> list[chunking.Chunk]:
    """The text's chunks; too many of them fail the document instead of multiplying the embedding work."""
    chunks = chunking.split_text(text, target.chunk_size, target.chunk_overlap)
    if len(chunks) > target.max_chunks:
        limit = f"the {target.max_chunks}-chunk limit per document (MAX_CHUNKS_PER_DOCUMENT)"
        raise parsing.ParseError("too_many_chunks", f"{len(chunks)} chunks is over {limit}")
    return chunks


def _payload(target: Target, outcome: Outcome, chunk: chunking.Chunk, point_id: str) -> dict[str, Any]:
    return {
        "doc_id": outcome.doc_id,
        "chunk_id": point_id,
        "path": outcome.file.path,
        "content": chunk.text,
        "metadata": {"file_name": outcome.file.name, "mime_type": outcome.mime_type},
        "chunk_index": chunk.index,
        "total_chunks": outcome.chunk_count,
        "collection_id": target.collection_id,
    }


@dataclass
class BatchTimes:
    """Where a batch's time went, in seconds: logged per batch, read by bench/ingest.py."""

    prepare: float = 0.0
    embed: float = 0.0
    store: float = 0.0
    chunks: int = 0

    def line(self) -> str:
        return (
            f"{self.chunks} chunks; prepare {self.prepare:.2f} s, embed {self.embed:.2f} s, "
            f"store {self.store:.2f} s"
        )


def _timed(times: BatchTimes, phase: str, call: Callable, *args: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    try:
        return call(*args, **kwargs)
    finally:
        setattr(times, phase, getattr(times, phase) + time.perf_counter() - started)


@dataclass
class _Batch:
    """A batch in the stream: its chunks cut into windows in order, and a future for its storing."""

    outcomes: list[Outcome]
    times: BatchTimes
    rewritten: list[str]  # the documents whose points it replaces
    items: list[tuple[Outcome, chunking.Chunk]]
    stored: Future = field(default_factory=Future)
    stores: list[Future] = field(default_factory=list)
    taken: int = 0
    embedded: int = 0

    def take(self, size: int) -> list[tuple[Outcome, chunking.Chunk]]:
        window = self.items[self.taken : self.taken + size]
        self.taken += len(window)
        return window

    @property
    def exhausted(self) -> bool:
        return self.taken >= len(self.items)


class VectorStream:
    """Embeds and stores batches in the order written, keeping vecpipe's model busy across them.

    Two /embed calls are in flight at all times: the next batch's first window goes out while the last
    one of the batch before is still in the model, so a batch boundary costs the model nothing. A
    batch's points are built (BM25 is this process's CPU) and upserted in a store thread, two windows
    at most behind; the future that ``write`` returns resolves once every point of the batch is
    stored, so its rows can be committed. Leaving the ``with`` block on an error abandons the batches
    not yet sent (their documents are in the operation's in-flight list).
    """

    def __init__(self, target: Target, vectors: VectorWriter, progress: Progress):
        self._target, self._vectors, self._progress = target, vectors, progress
        self._queue: SimpleQueue[_Batch | None] = SimpleQueue()
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._abandoned = False
        self._unfinished: list[_Batch] = []
        self._thread = threading.Thread(target=self._run, name="vectors", daemon=True)

    def __enter__(self) -> VectorStream:
        self._thread.start()
        return self

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        self._abandoned = error_type is not None
        self._queue.put(None)
        self._thread.join()

    def write(self, outcomes: list[Outcome], times: BatchTimes) -> Future:
        """Replace the points of every rewritten document of ``outcomes``; resolves when stored."""
        rewritten = [outcome for outcome in outcomes if not outcome.unchanged]
        items = [(outcome, chunk) for outcome in rewritten for chunk in outcome.chunks]
        # Similar lengths in each request: the model pads a batch to its longest text.
        items.sort(key=lambda item: len(item[1].text), reverse=True)
        times.chunks += len(items)
        batch = _Batch(outcomes, times, [outcome.doc_id for outcome in rewritten], items)
        with self._lock:
            if self._error is not None:
                batch.stored.set_exception(self._error)
            else:
                self._unfinished.append(batch)
                self._queue.put(batch)
        return batch.stored

    def _run(self) -> None:
        try:
            self._stream()
        except BaseException as error:  # noqa: BLE001 - every batch not stored fails with it
            with self._lock:
                self._error = error
                failed, self._unfinished = self._unfinished, []
            for batch in failed:
                if not batch.stored.done():
                    batch.stored.set_exception(error)

    def _stream(self) -> None:
        largest = min(self._target.embed_batch, UPSERT_LIMIT)
        size, current, closed = min(largest, FIRST_WINDOW), None, False
        sent: deque[tuple[_Batch, list, Future]] = deque()
        storing: deque[Future] = deque()
        with (
            ThreadPoolExecutor(2, thread_name_prefix="embed") as embedding,
            ThreadPoolExecutor(1, thread_name_prefix="upsert") as store,
        ):
            last = time.perf_counter()
            while True:
                while len(sent) < 2 and not closed and not self._abandoned:
                    if current is None or current.exhausted:
                        try:  # wait for the next batch only when nothing is in the model
                            current = self._queue.get(block=not sent)
                        except Empty:
                            break
                        if current is None:
                            closed = True
                        else:
                            self._begin(current, store)
                        continue
                    window = current.take(size)
                    texts = [chunk.text for _, chunk in window]
                    sent.append((current, window, embedding.submit(_embed, self._vectors, texts)))
                if not sent:
                    if closed or self._abandoned:
                        return
                    continue
                batch, window, call = sent.popleft()
                embeddings, done = call.result()
                # The rate is the model's throughput: from the end of one call to the end of the next
                # (a small call can end before a larger one sent ahead of it: then it took no time).
                elapsed, last = max(done - last, 0.0), max(done, last)
                batch.times.embed += elapsed
                rate = len(window) / max(elapsed, 1e-3)
                size = min(largest, max(SMALLEST_WINDOW, int(rate * WINDOW_SECONDS)))
                self._progress.embedded(len(window))  # as soon as embedded, before its upsert
                if len(storing) == 2:
                    storing.popleft().result()
                storing.append(
                    self._submit_store(store, batch, _store, self._target, window, embeddings, self._vectors)
                )
                batch.embedded += len(window)
                if batch.embedded == len(batch.items):
                    store.submit(self._finish, batch)

    def _begin(self, batch: _Batch, store: ThreadPoolExecutor) -> None:
        if batch.rewritten:
            # A changed file may now have fewer chunks (or none): its old points must not linger.
            name = self._target.vector_store_name
            self._submit_store(store, batch, self._vectors.delete_points, name, batch.rewritten)
        if not batch.items:
            store.submit(self._finish, batch)

    def _submit_store(self, store: ThreadPoolExecutor, batch: _Batch, call: Callable, *args: Any) -> Future:
        stored = store.submit(_timed, batch.times, "store", call, *args)
        batch.stores.append(stored)
        return stored

    def _finish(self, batch: _Batch) -> None:
        """In the store thread, after the batch's last upsert: its outcomes keep no texts now."""
        try:
            for stored in batch.stores:
                stored.result()
        except BaseException as error:  # noqa: BLE001 - the caller hears it from the future
            batch.stored.set_exception(error)
            return
        for outcome in batch.outcomes:
            outcome.chunks = []
        with self._lock:
            self._unfinished.remove(batch)
        batch.stored.set_result(None)


def _embed(vectors: VectorWriter, texts: list[str]) -> tuple[list[list[float]], float]:
    return vectors.embed(texts, mode="document"), time.perf_counter()


def _store(
    target: Target, window: list[tuple[Outcome, chunking.Chunk]], embeddings: list, vectors: VectorWriter
) -> None:
    points = []
    for (outcome, chunk), vector in zip(window, embeddings, strict=True):
        point_id = ids.chunk_id(target.collection_id, outcome.doc_id, chunk.index)
        payload = _payload(target, outcome, chunk, point_id)
        points.append({"id": point_id, "vector": vector, "payload": payload})
    if target.bm25 is not None:  # beside the dense vector, in the same point (the same id)
        encoded = sparse.encode_documents([chunk.text for _, chunk in window], *target.bm25)
        for point, sparse_vector in zip(points, encoded, strict=True):
            point["sparse_vector"] = sparse_vector
    vectors.upsert(target.vector_store_name, points, wait=True)


def prepare_batch(
    files: list[FoundFile], known: dict[str, Known], target: Target, force: bool
) -> tuple[list[Outcome], BatchTimes]:
    """Every file of a batch read, parsed and chunked: no vecpipe, no database."""
    started = time.perf_counter()
    outcomes = [prepare(file, known.get(file.path), target, force) for file in files]
    return outcomes, BatchTimes(prepare=time.perf_counter() - started)
