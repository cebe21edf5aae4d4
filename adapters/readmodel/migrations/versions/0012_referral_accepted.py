"""When a referral was accepted, kept after it is withdrawn: an accepted referral later withdrawn
(a death among the reasons) was still a decision, and left the UCR acceptance rate when its
decision time became the withdrawal's. Facts stored before this revision have none until their
patient's journey changes again; their figures read the decision time as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TIMESTAMP = sa.String(27)  # as the read model stores a moment (0002)


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("accepted_at", TIMESTAMP))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("accepted_at")
