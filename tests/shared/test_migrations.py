"""The migrations against a real PostgreSQL 15: a full round trip, and no drift from the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from semantik.shared.migrations import downgrade, upgrade
from semantik.shared.models import Base


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
