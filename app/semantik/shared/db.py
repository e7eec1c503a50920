"""Engine and sessions, built once per process from the settings."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from semantik.shared.config import get_settings


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    # DB_ECHO raises the engine logger's level instead of echo=True, which adds a handler of its own
    # beside the service's (every statement twice in the journal). Parameters never reach a log or an
    # error message: they hold passwords' hashes, tokens' hashes and documents' text.
    if settings.db_echo:
        logging.getLogger("sqlalchemy.engine.Engine").setLevel(logging.INFO)
    return create_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        pool_pre_ping=settings.db_pool_pre_ping,
        hide_parameters=True,
    )


@lru_cache
def _session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def new_session() -> Session:
    """A session of the engine; it connects on first use, so creating one does no I/O."""
    return _session_factory()()


def end_session(session: Session, *, commit: bool) -> None:
    """Commit (or roll back) and close; a commit that fails is rolled back and raised."""
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def has_work(session: Session) -> bool:
    """Whether ending the session may touch the database: a transaction is open or changes are pending.
    Without either, committing and closing it is bookkeeping in memory."""
    return session.in_transaction() or bool(session.new or session.dirty or session.deleted)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = new_session()
    try:
        yield session
    except BaseException:
        end_session(session, commit=False)
        raise
    end_session(session, commit=True)
