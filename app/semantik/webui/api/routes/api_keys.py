from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from semantik.shared.services import api_keys
from semantik.webui.api.deps import CurrentUser, SessionDep, SettingsDep
from semantik.webui.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyList, ApiKeyOut, ApiKeyPatch

router = APIRouter(prefix="/api/v2/api-keys", tags=["api-keys"])


@router.post("", response_model=ApiKeyCreated, status_code=201)
def create_key(body: ApiKeyIn, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> object:
    key, raw = api_keys.create(
        session,
        user,
        name=body.name,
        expires_in_days=body.expires_in_days,
        limit=settings.api_key_max_per_user,
        longest=settings.api_key_max_lifetime_days,
    )
    return {**ApiKeyOut.model_validate(key).model_dump(), "api_key": raw}


@router.get("", response_model=ApiKeyList)
def list_keys(user: CurrentUser, session: SessionDep) -> object:
    keys = api_keys.list_for(session, user)
    return {"api_keys": keys, "total": len(keys)}


@router.get("/{key_id}", response_model=ApiKeyOut)
def get_key(key_id: UUID, user: CurrentUser, session: SessionDep) -> object:
    return api_keys.get_owned(session, user, str(key_id))


@router.patch("/{key_id}", response_model=ApiKeyOut)
def patch_key(
    key_id: UUID, body: ApiKeyPatch, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> object:
    return api_keys.set_active(session, user, str(key_id), body.is_active, settings.api_key_max_per_user)
