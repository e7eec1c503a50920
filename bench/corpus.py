"""The real corpus the benchmarks read: the PostgreSQL 15 manual, 1,169 HTML pages nobody here wrote."""

from __future__ import annotations

from pathlib import Path

MANUAL = Path("/usr/share/doc/postgresql-doc-15/html")


def postgresql_manual() -> Path:
    """The manual's folder, installing Debian's postgresql-doc-15 (apt, as root) when it is missing."""
    from support.servers import apt_install

    if not MANUAL.is_dir():
        apt_install(["postgresql-doc-15"])
    return MANUAL
