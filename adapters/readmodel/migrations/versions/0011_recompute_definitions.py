"""Every stored day's figures marked for computing again: lost bed days now count bed-based
services only, and the discharge pathway shares are of the discharges with a pathway recorded
(docs/metrics.md). Rows stored before kept the old definitions, and a weekly report or a
service's history mixed the two; the worker's refresh computes the marked days again (behind a
backlog, once it has caught up).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One mark a service, under the batch token `definitions-0011`, cleared by the refresh that
    # computes it.
    op.execute(
        "INSERT INTO service_daily_dirty (service_id, day, through, token) "
        "SELECT service_id, MIN(day), MAX(day), 'definitions-0011' FROM service_daily "
        "GROUP BY service_id"
    )


def downgrade() -> None:
    op.execute("DELETE FROM service_daily_dirty WHERE token = 'definitions-0011'")
