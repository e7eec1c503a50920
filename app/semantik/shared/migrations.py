"""Alembic, driven from code: `semantik migrate` and the tests use the same path."""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

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
