"""The migrations against a real PostgreSQL 15: a full round trip, no drift from the models, and the
previous release's code working on the newest schema (expand-only migrations)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.orm import Session

from semantik.shared.migrations import downgrade, upgrade
from semantik.shared.models import Base, Collection, Operation, User


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(servers) -> None:
    postgres, _ = servers
    url = postgres.create_database("migrations_roundtrip").replace("postgresql://", "postgresql+psycopg2://")
    upgrade("head", url)
    assert _tables(url) == set(Base.metadata.tables)
    downgrade("base", url)
    assert _tables(url) == set()
    upgrade("head", url)
    assert _tables(url) == set(Base.metadata.tables)


def test_models_and_migrations_do_not_drift(servers) -> None:
    postgres, _ = servers
    url = postgres.create_database("migrations_drift").replace("postgresql://", "postgresql+psycopg2://")
    upgrade("head", url)
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


# The previous release's code, run against this schema: it creates and reads back what the webui creates
# on a user's first steps, with its own services. Prints where it was imported from.
_PREVIOUS_RELEASE_USES_THE_SCHEMA = """
import json

import semantik
from semantik.shared.db import session_scope
from semantik.shared.services import collections, operations, users
from semantik.webui.schemas import CollectionCreate

with session_scope() as session:
    user = users.create(session, username="previous", email="previous@example.com", password="previous-pw-1")
    collection, operation = collections.create(
        session, user, CollectionCreate(name="previous-release").model_dump()  # as its route does
    )
    ids = {"user": user.id, "collection": collection.id, "operation": operation.uuid}
with session_scope() as session:
    user = users.get(session, ids["user"])
    operation = operations.get_for_user(session, user, ids["operation"])
    assert collections.get_owned(session, user, ids["collection"]).name == "previous-release"
    assert operation.collection_id == ids["collection"] and operation.status.value == "pending"
    listed, total = operations.list_for_user(session, user, statuses=[], kind=None, page=1, per_page=10)
    assert total == 1 and listed[0].uuid == ids["operation"]
print(json.dumps({"file": semantik.__file__, **ids}))
"""


def test_the_previous_release_runs_on_this_schema(servers, tmp_path: Path) -> None:
    from support.releases import previous_release, previous_release_sha

    postgres, redis = servers
    url = postgres.create_database("migrations_previous_release")
    upgrade("head", url.replace("postgresql://", "postgresql+psycopg2://"))
    old = previous_release(tmp_path / "previous").resolve()
    assert (old / "app" / "semantik").is_dir() and (old / "alembic.ini").is_file()
    assert "worker_host" not in (old / "app" / "semantik" / "shared" / "models.py").read_text()

    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    env |= {
        "ENVIRONMENT": "test",
        "PYTHONPATH": str(old / "app"),
        "DATABASE_URL": url,
        "REDIS_URL": redis.url,
    }
    done = subprocess.run(
        [sys.executable, "-c", _PREVIOUS_RELEASE_USES_THE_SCHEMA],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    written = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(written["file"]).resolve().is_relative_to(old), (written["file"], previous_release_sha())

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
    try:
        with Session(engine) as session:
            operation = session.scalars(select(Operation).where(Operation.uuid == written["operation"])).one()
            assert (operation.collection_id, operation.user_id) == (written["collection"], written["user"])
            assert operation.worker_host is None
            assert session.get(Collection, written["collection"]).name == "previous-release"
            assert session.get(User, written["user"]).username == "previous"
    finally:
        engine.dispose()
