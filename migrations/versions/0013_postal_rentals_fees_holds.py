"""Rentals by post and fees people can settle: the loan clock starts at delivery (starts_at/due_at NULL while the
copy is on its way), "sent back", lost rentals (replacement charged, copy written off and found again), staff
waivers on rental and hold fees; holds customers can suspend or end by a date; orders collected in store; the
customer's automatic-renewal choice; complimentary plans.

rentals, holds, stock_movements and wallet_entries are referenced by no other table, so SQLite's batch rebuild of
their CHECK constraints is safe; orders is referenced everywhere, so its new column and CHECK are added in place.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 14:10:00

"""
import warnings

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_FEES = "fee_cents >= 0 AND fee_paid_cents >= 0 AND fee_waived_cents >= 0 AND fee_paid_cents + fee_waived_cents <= fee_cents"
_OLD_FEES = "fee_cents >= 0 AND fee_paid_cents >= 0 AND fee_paid_cents <= fee_cents"
_REASONS = ("reason IN ('top_up','order_payment','refund','cancellation','late_fee','hold_fee',{extra}'subscription',"
            "'adjustment')")
_MOVES = "reason IN ('initial','restock','adjustment','reserve','release','sale','return','rental_out'{extra})"


def upgrade():
    with warnings.catch_warnings():  # SQLite batch mode reflects `users` (expression index it cannot describe)
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        _upgrade()


def downgrade():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        _downgrade()


def _upgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('rentals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sent_back_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('lost_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('fee_waived_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('replacement_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.alter_column('starts_at', existing_type=sa.DateTime(timezone=True), nullable=True)
        batch_op.alter_column('due_at', existing_type=sa.DateTime(timezone=True), nullable=True)
        batch_op.drop_constraint(op.f('ck_rentals_status_valid'), type_='check')
        batch_op.create_check_constraint('status_valid', "status IN ('active', 'returned', 'lost')")
        batch_op.drop_constraint(op.f('ck_rentals_fees_valid'), type_='check')
        batch_op.create_check_constraint('fees_valid', _FEES)
        batch_op.create_check_constraint('replacement_nonnegative', 'replacement_cents >= 0')

    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_waived_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('suspended_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('not_needed_after', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f('ck_holds_fees_valid'), type_='check')
        batch_op.create_check_constraint('fees_valid', _FEES)
        batch_op.create_index('ix_holds_status_not_needed_after', ['status', 'not_needed_after'], unique=False)
        batch_op.create_index('ix_holds_status_suspended_until', ['status', 'suspended_until'], unique=False)

    with op.batch_alter_table('wallet_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_wallet_entries_reason_valid'), type_='check')
        batch_op.create_check_constraint('reason_valid', _REASONS.format(extra="'lost_book',"))

    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_stock_movements_reason_valid'), type_='check')
        batch_op.create_check_constraint('reason_valid', _MOVES.format(extra=",'lost','found'"))

    if sqlite:
        op.execute("ALTER TABLE orders ADD COLUMN delivery_method VARCHAR(10) DEFAULT 'post' NOT NULL "
                   "CONSTRAINT ck_orders_delivery_method_valid CHECK (delivery_method IN ('post', 'collect'))")
    else:
        op.add_column('orders', sa.Column('delivery_method', sa.String(length=10), server_default='post',
                                          nullable=False))
        op.create_check_constraint(op.f('ck_orders_delivery_method_valid'), 'orders',
                                   "delivery_method IN ('post', 'collect')")

    op.add_column('users', sa.Column('auto_renew_rentals', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('subscriptions', sa.Column('comped_until', sa.DateTime(timezone=True), nullable=True))


def _downgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    # Plain DROP COLUMN (SQLite 3.35+ too): a batch rebuild of `users` would turn its column CHECKs into table
    # CHECKs, which older revisions' DROP COLUMN then trips over.
    op.drop_column('subscriptions', 'comped_until')
    op.drop_column('users', 'auto_renew_rentals')
    if sqlite:
        op.execute("ALTER TABLE orders DROP COLUMN delivery_method")
    else:
        op.drop_constraint(op.f('ck_orders_delivery_method_valid'), 'orders', type_='check')
        op.drop_column('orders', 'delivery_method')

    # Rows the older schema cannot hold: written-off copies become plain adjustments, lost-book charges
    # adjustments, lost rentals stay out (active), loans not yet started start now.
    op.execute("UPDATE stock_movements SET reason = 'adjustment' WHERE reason IN ('lost', 'found')")
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_stock_movements_reason_valid'), type_='check')
        batch_op.create_check_constraint('reason_valid', _MOVES.format(extra=""))
    op.execute("UPDATE wallet_entries SET reason = 'adjustment' WHERE reason = 'lost_book'")
    with op.batch_alter_table('wallet_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_wallet_entries_reason_valid'), type_='check')
        batch_op.create_check_constraint('reason_valid', _REASONS.format(extra=""))

    op.execute("UPDATE holds SET fee_cents = fee_cents - fee_waived_cents")
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_index('ix_holds_status_suspended_until')
        batch_op.drop_index('ix_holds_status_not_needed_after')
        batch_op.drop_constraint(op.f('ck_holds_fees_valid'), type_='check')
        batch_op.create_check_constraint('fees_valid', _OLD_FEES)
        batch_op.drop_column('not_needed_after')
        batch_op.drop_column('suspended_until')
        batch_op.drop_column('suspended_at')
        batch_op.drop_column('fee_waived_cents')

    op.execute("UPDATE rentals SET status = 'active' WHERE status = 'lost'")
    op.execute("UPDATE rentals SET fee_cents = fee_cents - fee_waived_cents")
    op.execute("UPDATE rentals SET starts_at = CURRENT_TIMESTAMP WHERE starts_at IS NULL")
    op.execute("UPDATE rentals SET due_at = starts_at WHERE due_at IS NULL")
    with op.batch_alter_table('rentals', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_rentals_replacement_nonnegative'), type_='check')
        batch_op.drop_constraint(op.f('ck_rentals_fees_valid'), type_='check')
        batch_op.create_check_constraint('fees_valid', _OLD_FEES)
        batch_op.drop_constraint(op.f('ck_rentals_status_valid'), type_='check')
        batch_op.create_check_constraint('status_valid', "status IN ('active', 'returned')")
        batch_op.alter_column('due_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column('starts_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_column('replacement_cents')
        batch_op.drop_column('fee_waived_cents')
        batch_op.drop_column('lost_at')
        batch_op.drop_column('sent_back_at')
