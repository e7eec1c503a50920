"""Snapshots of one collection: create, list, restore (the backup playbooks drive these)."""

from __future__ import annotations

from fastapi import APIRouter, status

from semantik.vecpipe.api.bodies import JSONBodyRoute
from semantik.vecpipe.api.deps import StoreDep
from semantik.vecpipe.api.routes.collections import collection_response
from semantik.vecpipe.schemas import RestoreResponse, SnapshotList, SnapshotOut

router = APIRouter(prefix="/collections/{name}/snapshots", tags=["snapshots"], route_class=JSONBodyRoute)


@router.post("", response_model=SnapshotOut, status_code=status.HTTP_201_CREATED)
def create_snapshot(name: str, store: StoreDep) -> SnapshotOut:
    return SnapshotOut(**store.create_snapshot(name).__dict__)


@router.get("", response_model=SnapshotList)
def list_snapshots(name: str, store: StoreDep) -> SnapshotList:
    found = [SnapshotOut(**snapshot.__dict__) for snapshot in store.list_snapshots(name)]
    return SnapshotList(collection_name=name, snapshots=found)


@router.post("/{snapshot}/restore", response_model=RestoreResponse)
def restore_snapshot(name: str, snapshot: str, store: StoreDep) -> RestoreResponse:
    """Replace the collection (or bring back a deleted one) with the snapshot's contents."""
    store.restore_snapshot(name, snapshot)
    return RestoreResponse(snapshot=snapshot, collection=collection_response(store, name))
