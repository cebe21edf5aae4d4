"""The next step of a referral or an assessment, as the sending team last worded it: the
caseload shows each patient's latest. Facts stored before this revision have none until their
patient's journey changes again (the fold writes the patient's facts afresh then).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("referrals", "assessments")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("next_step", sa.String(500)))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("next_step")
