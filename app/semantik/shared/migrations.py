"""Alembic, driven from code: `semantik migrate` and the tests use the same path."""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

SOURCE_TREE = Path(__file__).resolve().parents[3]
# A wheel carries the scripts as data files (pyproject's data-files) under the venv's share/.
INSTALLED = Path(sys.prefix) / "share" / "semantik"


def alembic_config(url: str | None = None) -> Config:
    """The source tree's alembic.ini and scripts, else the copies installed with the wheel."""
    root = SOURCE_TREE if (SOURCE_TREE / "alembic.ini").exists() else INSTALLED
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    config.attributes["configure_logger"] = False
    if url:
        config.attributes["url"] = url
    return config


def upgrade(revision: str = "head", url: str | None = None) -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(revision: str, url: str | None = None) -> None:
    command.downgrade(alembic_config(url), revision)


class MigrationRefused(Exception):
    pass


def current(url: str | None = None) -> str | None:
    """The database's schema revision (None: no schema yet)."""
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine, pool

    from semantik.shared.config import get_settings

    engine = create_engine(url or get_settings().sqlalchemy_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def migrate_to(target: str, url: str | None = None, *, force: bool = False) -> tuple[str | None, str | None]:
    """The schema moved to ``target``: a revision (or its prefix), "head", "base", or "-N" (N steps down);
    returns (before, after), None for no schema.

    This code is written for the newest revision it ships. Below that it refuses unless ``force``: going
    down is for a rollback, with the services that run this code stopped, or from the newer release's
    venv (venv.previous) once the hosts run the older code, which the older schema is for."""
    scripts = ScriptDirectory.from_config(alembic_config(url))
    before, newest = current(url), scripts.get_current_head()
    after = _revision_at(scripts, before, target)
    order = [None, *reversed([script.revision for script in scripts.walk_revisions()])]  # oldest first
    if order.index(after) < order.index(newest) and not force:
        raise MigrationRefused(
            f"{target} is revision {after or 'base'}, below {newest}, the schema this code is written for:"
            " stop the services that run it, then add --force"
        )
    if order.index(after) > order.index(before):
        upgrade(after or "base", url)
    elif order.index(after) < order.index(before):
        downgrade(after or "base", url)
    return before, after


def _revision_at(scripts: ScriptDirectory, before: str | None, target: str) -> str | None:
    if target == "base":
        return None
    if target.startswith("-") and target[1:].isdigit():
        below = [script.revision for script in scripts.iterate_revisions(before, "base")] if before else []
        steps = int(target[1:])
        return below[steps] if steps < len(below) else None
    try:
        script = scripts.get_revision(target) if target else None
    except CommandError as error:
        raise MigrationRefused(str(error)) from None
    if script is None:
        raise MigrationRefused(f"no revision {target!r}")
    return script.revision
