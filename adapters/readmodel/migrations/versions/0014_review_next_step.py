"""The next step a criteria-to-reside review names, kept on the stay it reviewed with the
latest review's time: the caseload shows it as an assessment's. Facts stored before this
revision have none until their patient's journey changes again.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TIMESTAMP = sa.String(27)  # as the read model stores a moment (0002)


def upgrade() -> None:
    with op.batch_alter_table("stays") as batch:
        batch.add_column(sa.Column("next_step", sa.String(500)))
        batch.add_column(sa.Column("reviewed_at", TIMESTAMP))


def downgrade() -> None:
    with op.batch_alter_table("stays") as batch:
        batch.drop_column("reviewed_at")
        batch.drop_column("next_step")
