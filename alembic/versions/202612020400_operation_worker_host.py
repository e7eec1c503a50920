"""operations.worker_host

Expand only: a nullable column, so the release before it (0.2.0) runs on this schema unchanged.

Revision ID: 202612020400
Revises: 202612012200
Create Date: 2026-12-02 04:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "202612020400"
down_revision: str | None = "202612012200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("operations", sa.Column("worker_host", sa.String(length=255), nullable=True))


def downgrade() -> None:
    op.drop_column("operations", "worker_host")
