"""Rental late fees and reminder bookkeeping: what was charged at return and how much the wallet has paid (rentals is not
referenced by other tables, so SQLite's batch rebuild for the CHECK is safe).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 07:26:37.099839

"""
import warnings

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

def upgrade():
    # SQLite rebuilds `rentals`; reflecting its foreign keys also reflects `users`, whose expression index SQLite
    # cannot describe (it is not touched: only `rentals` is rebuilt).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        _upgrade()

def downgrade():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        _downgrade()

def _upgrade():
    with op.batch_alter_table('rentals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('fee_paid_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('reminder_sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('overdue_notice_sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            'fees_valid', 'fee_cents >= 0 AND fee_paid_cents >= 0 AND fee_paid_cents <= fee_cents')

def _downgrade():
    with op.batch_alter_table('rentals', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_rentals_fees_valid'), type_='check')
        batch_op.drop_column('overdue_notice_sent_at')
        batch_op.drop_column('reminder_sent_at')
        batch_op.drop_column('fee_paid_cents')
        batch_op.drop_column('fee_cents')

