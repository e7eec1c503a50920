from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from semantik.shared.services import operations
from semantik.webui.api.deps import (
    CurrentUser,
    OperationStatuses,
    OperationTypeFilter,
    PageNumber,
    PerPage,
    SessionDep,
)
from semantik.webui.schemas import OperationList, OperationOut

router = APIRouter(prefix="/api/v2/operations", tags=["operations"])


@router.get("", response_model=OperationList)
def list_operations(
    user: CurrentUser,
    session: SessionDep,
    status: OperationStatuses = None,
    operation_type: OperationTypeFilter = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
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
