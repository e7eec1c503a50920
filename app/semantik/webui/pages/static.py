"""The page's stylesheet, script and icon, at URLs that name their content's version.

A release's files get new URLs, so a browser (and nginx, which caches /static/ on the lb) may keep
each file for a year without asking again. A URL of another version answers 404, which nobody caches:
during a rollout, nginx asks the other web UI host (roles/nginx, location /static/).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

ROOT = Path(__file__).resolve().parents[1] / "static"
TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Read once: a handful of small files, served from memory by name (no path ever reaches the disk).
FILES = {path.name: path.read_bytes() for path in sorted(ROOT.iterdir()) if path.suffix in TYPES}
VERSION = hashlib.sha256(b"".join(name.encode() + FILES[name] for name in FILES)).hexdigest()[:12]
CACHE = "public, max-age=31536000, immutable"

router = APIRouter(include_in_schema=False)


def url(name: str) -> str:
    if name not in FILES:
        raise KeyError(f"no static file {name!r} in {ROOT}")
    return f"/static/{VERSION}/{name}"


@router.get("/static/{version}/{name}")
def static_file(version: str, name: str) -> Response:
    if version != VERSION or name not in FILES:
        return PlainTextResponse("Not found", status_code=404, headers={"Cache-Control": "no-store"})
    media_type = TYPES[Path(name).suffix]
    return Response(FILES[name], media_type=media_type, headers={"Cache-Control": CACHE})
