"""Sessions that sign-out can end, and a linear chain of boundary versions.

- users.session_version: a signed-in session carries the version it was made under; sign-out, a
  new password, disabling and a role change bump it, so every earlier cookie stops working.
- boundary_versions.parent_id is unique: two planners saving on the same base cannot both write a
  version (the second gets 409), so the chain of versions stays linear.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ux_boundary_versions_parent", "boundary_versions", ["parent_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_boundary_versions_parent", "boundary_versions")
    op.drop_column("users", "session_version")
