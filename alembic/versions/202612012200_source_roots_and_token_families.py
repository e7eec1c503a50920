"""users.source_roots and refresh_tokens.family

Expand only: both columns are nullable, so the code before them runs on this schema unchanged.

Revision ID: 202612012200
Revises: 202611291804
Create Date: 2026-12-01 22:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "202612012200"
down_revision: str | None = "202611291804"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("source_roots", sa.JSON(), nullable=True))
    op.add_column("refresh_tokens", sa.Column("family", sa.String(length=36), nullable=True))
    op.create_index(op.f("ix_refresh_tokens_family"), "refresh_tokens", ["family"])


def downgrade() -> None:
    op.drop_index(op.f("ix_refresh_tokens_family"), table_name="refresh_tokens")
    op.drop_column("refresh_tokens", "family")
    op.drop_column("users", "source_roots")
