"""Blue/green reindex: build a new vector collection beside the live one, switch only on success.

Searches keep using the old vector collection (and the rows keep describing it) until one
transaction records every document and points the collection at the new one; the old one is
dropped after. A cancel or failure drops the half-built one and leaves the live one untouched.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from semantik.shared import sparse
from semantik.shared.config import Settings
from semantik.shared.db import session_scope
from semantik.shared.errors import EntityNotFoundError
from semantik.shared.models import Collection, CollectionSource, Document
from semantik.shared.services.collections import chunking_settings, sparse_settings
from semantik.worker import endings, lifecycle, records
from semantik.worker.ingest import SourceRef, Staged, ingest_sources, target_for
from semantik.worker.lifecycle import Claim


def staging_name(collection: Collection, claim: Claim) -> str:
    """Fixed per operation, so a re-run after a crash resumes into the same vector collection."""
    return f"col_{collection.id.replace('-', '_')}_r{claim.uuid.replace('-', '')[:12]}"


def _record_all(session: Session, collection: Collection, staged: Staged) -> None:
    by_source = defaultdict(list)
    for source_id, outcome in staged.outcomes:
        by_source[source_id].append(outcome)
    for source_id, outcomes in by_source.items():
        records.record_outcomes(session, collection.id, source_id, outcomes)
    seen = [outcome.file.path for _, outcome in staged.outcomes]
    session.execute(
        delete(Document).where(Document.collection_id == collection.id, Document.file_path.not_in(seen))
    )
    for source in session.scalars(
        select(CollectionSource).where(CollectionSource.collection_id == collection.id)
    ):
        records.refresh_source_counters(session, source, indexed=True)


def reindex(claim: Claim, settings: Settings, vectors) -> None:
    with session_scope() as session:
        collection = session.get(Collection, claim.collection_id, with_for_update=True)
        if collection is None:
            raise EntityNotFoundError("Collection", claim.collection_id)
        size, overlap = chunking_settings(collection, claim.config)
        sparse_config = sparse_settings(collection, claim.config)
        name = staging_name(collection, claim)
        collection.qdrant_staging = {"name": name, "operation_id": claim.uuid}
        target = replace(
            target_for(settings, collection, name),
            chunk_size=size,
            chunk_overlap=overlap,
            bm25=sparse.parameters(sparse_config),
        )
        sources = [
            SourceRef.of(source)
            for source in session.scalars(
                select(CollectionSource).where(CollectionSource.collection_id == collection.id)
            )
        ]
    vectors.create_collection(name, sparse_index=sparse.enabled(sparse_config))
    staged = Staged()
    ingest_sources(claim, settings, vectors, target, sources, staged=staged)
    retired: list[str] = []

    def switch(session: Session, collection: Collection) -> None:
        retired.append(collection.vector_store_name)
        collection.vector_store_name, collection.qdrant_staging = name, None
        collection.chunk_size, collection.chunk_overlap = size, overlap
        collection.sparse_index_config = sparse_config
        collection.qdrant_collections = {"names": [name, *retired]}
        _record_all(session, collection, staged)

    lifecycle.complete(claim, switch)
    left = endings.drop_vector_collections(retired, vectors)
    with session_scope() as session:
        collection = session.get(Collection, claim.collection_id)
        if collection is not None:
            collection.qdrant_collections = {"names": [name, *left]}
