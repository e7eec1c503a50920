"""Bringing a collection up to date with its directory sources, batch by batch.

Each batch is written to the vector store first and then committed with its progress; between
batches the operation's status is checked, so a cancel stops it with every committed batch whole.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial

from semantik.shared import sparse
from semantik.shared.config import Settings
from semantik.shared.db import session_scope
from semantik.shared.models import Collection, CollectionSource, DocumentStatus
from semantik.shared.services.paths import resolve_source_path
from semantik.worker import metrics, records
from semantik.worker.lifecycle import Claim, commit_progress, mark_in_flight, note_chunks
from semantik.worker.pipeline import BatchTimes, Outcome, Target, VectorStream, VectorWriter, prepare_batch
from semantik.worker.scanning import FoundFile, scan_directory

log = logging.getLogger(__name__)
REMOVE_BATCH = 500
# A source's first batch is small: the model starts on it while the next, full one is parsed.
FIRST_BATCH = 32


@dataclass(frozen=True)
class SourceRef:
    id: int
    path: str
    recursive: bool

    @classmethod
    def of(cls, source: CollectionSource) -> SourceRef:
        recursive = bool((source.source_config or {}).get("recursive", True))
        return cls(source.id, source.source_path, recursive)


@dataclass
class Staged:
    """Outcomes held back until a blue/green switch records them all at once."""

    outcomes: list[tuple[int, Outcome]] = field(default_factory=list)


@dataclass(frozen=True)
class OperationProgress:
    """A batch's chunk counts, into the operation's row as they happen (pipeline.Progress)."""

    claim: Claim

    def prepared(self, documents: int, chunks: int) -> None:
        note_chunks(self.claim, documents_prepared=documents, chunks_prepared=chunks)

    def embedded(self, chunks: int) -> None:
        note_chunks(self.claim, chunks_embedded=chunks)


def max_bytes(settings: Settings) -> int:
    return int(settings.max_document_size_mb * 1024 * 1024)


def target_for(settings: Settings, collection: Collection, vector_store_name: str | None = None) -> Target:
    return Target(
        collection_id=collection.id,
        vector_store_name=vector_store_name or collection.vector_store_name,
        chunk_size=collection.chunk_size,
        chunk_overlap=collection.chunk_overlap,
        max_bytes=max_bytes(settings),
        embed_batch=settings.ingest_embed_batch,
        max_chunks=settings.max_chunks_per_document,
        max_pdf_pages=settings.max_pdf_pages,
        parse_timeout=settings.parse_timeout_seconds,
        bm25=sparse.parameters(collection.sparse_index_config),
    )


def scan(settings: Settings, source: SourceRef) -> list[FoundFile]:
    """The source's files; its path is checked against the allowed roots again, as it may have moved."""
    root = resolve_source_path(source.path, settings.document_allowed_roots)
    return scan_directory(root, recursive=source.recursive, max_bytes=max_bytes(settings))


def _batches(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def file_batches(
    files: list[FoundFile], count: int, budget_bytes: int, first: int | None = None
) -> list[list[FoundFile]]:
    """Up to ``count`` files a batch (``first`` in the first one), fewer when their bytes (held in
    memory at once) pass the budget."""
    batches: list[list[FoundFile]] = []
    current: list[FoundFile] = []
    held = 0
    for file in files:
        size = 0 if file.refusal else file.size  # a refused file is never read
        limit = count if batches or first is None else min(first, count)
        if current and (len(current) >= limit or held + size > budget_bytes):
            batches.append(current)
            current, held = [], 0
        current.append(file)
        held += size
    return [*batches, current] if current else batches


def ingest_sources(
    claim: Claim,
    settings: Settings,
    vectors: VectorWriter,
    target: Target,
    sources: list[SourceRef],
    *,
    remove_missing: bool = False,
    staged: Staged | None = None,
) -> None:
    plans = [(source, scan(settings, source)) for source in sources]
    commit_progress(claim, total=sum(len(files) for _, files in plans))
    with session_scope() as session:
        known = records.known_documents(session, claim.collection_id)

    # A blue/green build writes only to its own collection, dropped whole if it fails: rows stay.
    def note(doc_ids: list[str]) -> None:
        if staged is None:
            mark_in_flight(claim, target.vector_store_name, doc_ids)

    budget = int(settings.ingest_batch_mb * 1024 * 1024)
    jobs = [
        (source, batch)
        for source, files in plans
        for batch in file_batches(files, settings.ingest_batch_documents, budget, FIRST_BATCH)
    ]
    force = staged is not None
    prepared = ((source, prepare_batch(batch, known, target, force)) for source, batch in jobs)
    # Each batch goes into the stream as soon as it is parsed, and the next is parsed while vecpipe
    # embeds it: the model never waits on the parsers, nor on a batch's rows being recorded. Parsing
    # stays in this thread, where its time limit can interrupt it (SIGALRM). Two batches are held at
    # once: the one being written, and the next, written or parsed.
    progress, written = OperationProgress(claim), None
    with VectorStream(target, vectors, progress) as stream:
        for source, (outcomes, times) in prepared:
            changed = [outcome for outcome in outcomes if not outcome.unchanged]
            progress.prepared(len(outcomes), sum(len(outcome.chunks) for outcome in changed))
            changed_ids = [outcome.doc_id for outcome in changed]
            note([*(written.changed if written else []), *changed_ids])
            following = Written(source, outcomes, times, changed_ids, stream.write(outcomes, times))
            if written is not None:
                _record(claim, written, staged, following.changed)
            written = following
        if written is not None:
            _record(claim, written, staged, [])
    if remove_missing:
        for source, files in plans:
            remove_vanished(claim, vectors, target, source, {file.path for file in files})


@dataclass(frozen=True)
class Written:
    """A batch handed to the vector stream, its rows to record once its points are stored."""

    source: SourceRef
    outcomes: list[Outcome]
    times: BatchTimes
    changed: list[str]  # the documents whose points it rewrites
    stored: Future


def _record(claim: Claim, written: Written, staged: Staged | None, still_in_flight: list[str]) -> None:
    """Wait for the batch's points, then commit its rows; the next batch's documents stay in flight."""
    written.stored.result()
    started = time.perf_counter()
    source, outcomes = written.source, written.outcomes
    failed = sum(outcome.status is DocumentStatus.FAILED for outcome in outcomes)
    if staged is not None:
        staged.outcomes += [(source.id, outcome) for outcome in outcomes]
        commit_progress(claim, done=len(outcomes) - failed, failed=failed)
    else:
        commit_progress(
            claim,
            lambda session: records.record_outcomes(session, claim.collection_id, source.id, outcomes),
            done=len(outcomes) - failed,
            failed=failed,
            in_flight=still_in_flight,
        )
    metrics.count_documents(outcomes)
    log.info(
        "operation %s batch: %d documents, %s, record %.2f s",
        claim.uuid,
        len(outcomes),
        written.times.line(),
        time.perf_counter() - started,
    )


def remove_vanished(
    claim: Claim, vectors: VectorWriter, target: Target, source: SourceRef, present: set[str]
) -> int:
    """Drop the documents of ``source`` whose files are gone: points first, then rows."""
    with session_scope() as session:
        documents = records.documents_of_source(session, claim.collection_id, source.id)
    gone = sorted(doc_id for path, doc_id in documents.items() if path not in present)
    remove_documents(claim, vectors, target.vector_store_name, gone)
    return len(gone)


def remove_documents(claim: Claim, vectors: VectorWriter, vector_store_name: str, doc_ids: list[str]) -> None:
    for batch in _batches(doc_ids, REMOVE_BATCH):
        mark_in_flight(claim, vector_store_name, batch)
        vectors.delete_points(vector_store_name, batch)
        commit_progress(claim, partial(records.delete_documents, doc_ids=batch))
