from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query

from semantik.shared.services import operations
from semantik.webui.api.deps import CurrentUser, SessionDep
from semantik.webui.schemas import OperationList, OperationOut

router = APIRouter(prefix="/api/v2/operations", tags=["operations"])


@router.get("", response_model=OperationList)
def list_operations(
    user: CurrentUser,
    session: SessionDep,
    status: str | None = Query(None, max_length=200),
    operation_type: str | None = Query(None, max_length=32),
    page: int = Query(1, ge=1, le=100_000),
    per_page: int = Query(50, ge=1, le=100),
) -> object:
    rows, total = operations.list_for_user(
        session,
        user,
        statuses=operations.parse_statuses(status),
        kind=operations.parse_type(operation_type),
        page=page,
        per_page=per_page,
    )
    return {"operations": rows, "total": total, "page": page, "per_page": per_page}


@router.get("/{operation_id}", response_model=OperationOut)
def get_operation(operation_id: UUID, user: CurrentUser, session: SessionDep) -> object:
    return operations.get_for_user(session, user, str(operation_id))


@router.delete("/{operation_id}", response_model=OperationOut)
def cancel_operation(operation_id: UUID, user: CurrentUser, session: SessionDep) -> object:
    return operations.cancel(session, user, str(operation_id))
