"""Small builders for API tests."""

from __future__ import annotations

from typing import Any

PASSWORD = "correct-horse-battery"


def register(client: Any, username: str = "alice", password: str = PASSWORD) -> dict[str, Any]:
    response = client.post(
        "/api/auth/register",
        json={"username": username, "email": f"{username}@example.org", "password": password},
    )
    assert response.status_code == 200, response.text
    return response.json()


def login(client: Any, username: str = "alice", password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def auth_headers(client: Any, username: str = "alice") -> dict[str, str]:
    register(client, username)
    return {"Authorization": f"Bearer {login(client, username)['access_token']}"}


def create_collection(
    client: Any, headers: dict[str, str], name: str = "docs", **fields: Any
) -> dict[str, Any]:
    response = client.post("/api/v2/collections", json={"name": name, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def finish_operations(collection_id: str) -> None:
    """Do what the worker does when a collection's operations end: complete them, mark it ready."""
    from sqlalchemy import update

    from semantik.shared.db import session_scope
    from semantik.shared.models import Collection, CollectionStatus, Operation, OperationStatus

    with session_scope() as session:
        session.execute(
            update(Operation)
            .where(Operation.collection_id == collection_id)
            .values(status=OperationStatus.COMPLETED)
        )
        session.execute(
            update(Collection).where(Collection.id == collection_id).values(status=CollectionStatus.READY)
        )
