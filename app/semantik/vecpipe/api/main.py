"""All of vecpipe's routers; everything but /health needs the internal key."""

from fastapi import APIRouter, Depends

from semantik.vecpipe.api.deps import require_internal_key
from semantik.vecpipe.api.routes import collections, embed, health, points, search, snapshots

api_router = APIRouter()
api_router.include_router(health.router)
protected = [Depends(require_internal_key)]
for module in (embed, collections, points, search, snapshots):
    api_router.include_router(module.router, dependencies=protected)
