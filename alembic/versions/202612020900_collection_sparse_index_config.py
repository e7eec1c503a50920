"""collections.sparse_index_config

Expand only: a nullable column (null: no sparse index), so the release before it runs on this schema
unchanged and its collections stay dense-only until a reindex gives them a sparse index.

Revision ID: 202612020900
Revises: 202612020400
Create Date: 2026-12-02 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "202612020900"
down_revision: str | None = "202612020400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("collections", sa.Column("sparse_index_config", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("collections", "sparse_index_config")
