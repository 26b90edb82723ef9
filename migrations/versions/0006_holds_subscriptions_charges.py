"""Holds queue, subscriptions, gateway charges (top-ups, plans); rentals in days; orders paid partly from the wallet

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 11:27:47.350820

"""
import warnings

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


_REASONS = ("reason IN ('top_up','order_payment','refund','cancellation','late_fee',{extra}'subscription',"
            "'adjustment')")


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
    op.create_table('charges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=30), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('tier', sa.String(length=10), nullable=True),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('payment_provider', sa.String(length=10), nullable=False),
    sa.Column('payment_session_id', sa.String(length=255), nullable=True),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('top_up','subscription')", name=op.f('ck_charges_purpose_valid')),
    sa.CheckConstraint("status IN ('pending','paid','expired')", name=op.f('ck_charges_status_valid')),
    sa.CheckConstraint("tier IS NULL OR tier IN ('plus','premium')", name=op.f('ck_charges_tier_valid')),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_charges_amount_positive')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_charges_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_charges')),
    sa.UniqueConstraint('payment_session_id', name=op.f('uq_charges_payment_session_id')),
    sa.UniqueConstraint('reference', name=op.f('uq_charges_reference'))
    )
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.create_index('ix_charges_user_created', ['user_id', 'created_at'], unique=False)

    op.create_table('subscriptions',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('tier', sa.String(length=10), nullable=False),
    sa.Column('current_period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_tier', sa.String(length=10), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("next_tier IS NULL OR next_tier IN ('free','plus','premium')", name=op.f('ck_subscriptions_next_tier_valid')),
    sa.CheckConstraint("tier IN ('free','plus','premium')", name=op.f('ck_subscriptions_tier_valid')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscriptions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_subscriptions'))
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_subscriptions_tier_period_end', ['tier', 'current_period_end'], unique=False)

    op.create_table('holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('book_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ready_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('fee_cents', sa.Integer(), server_default='0', nullable=False),
    sa.Column('fee_paid_cents', sa.Integer(), server_default='0', nullable=False),
    sa.CheckConstraint("status IN ('waiting','ready','fulfilled','cancelled','expired')", name=op.f('ck_holds_status_valid')),
    sa.CheckConstraint('fee_cents >= 0 AND fee_paid_cents >= 0 AND fee_paid_cents <= fee_cents', name=op.f('ck_holds_fees_valid')),
    sa.CheckConstraint('priority BETWEEN 0 AND 2', name=op.f('ck_holds_priority_valid')),
    sa.ForeignKeyConstraint(['book_id'], ['books.id'], name=op.f('fk_holds_book_id_books'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_holds_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_holds_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holds'))
    )
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holds_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_holds_queue', ['book_id', 'status', 'priority', 'queued_at', 'id'], unique=False)
        batch_op.create_index('ix_holds_status_expires', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_holds_user_status', ['user_id', 'status'], unique=False)
        batch_op.create_index('uq_holds_open_user_book', ['user_id', 'book_id'], unique=True, sqlite_where=sa.text("status IN ('waiting','ready')"), postgresql_where=sa.text("status IN ('waiting','ready')"))

    # Rentals are priced and capped in days now (the subscription tiers allow 3, 7 or 14 days):
    # existing week counts become day counts.
    op.add_column('cart_lines', sa.Column('rental_days', sa.Integer(), server_default='7', nullable=False))
    op.execute("UPDATE cart_lines SET rental_days = rental_weeks * 7")
    with op.batch_alter_table('cart_lines', schema=None) as batch_op:  # nothing references cart_lines
        batch_op.drop_constraint(op.f('ck_cart_lines_rental_weeks_positive'), type_='check')
        batch_op.drop_column('rental_weeks')
        batch_op.create_check_constraint('rental_days_positive', 'rental_days >= 1')

    # order_lines and orders are referenced by other tables (rentals, holds ...): on SQLite a batch rebuild would
    # drop them and cascade, so they are changed in place (RENAME COLUMN, ADD COLUMN with a column CHECK).
    op.alter_column('order_lines', 'rental_weeks', new_column_name='rental_days')
    op.execute("UPDATE order_lines SET rental_days = rental_days * 7 WHERE rental_days IS NOT NULL")

    if sqlite:
        op.execute("ALTER TABLE orders ADD COLUMN member_discount_cents INTEGER DEFAULT '0' NOT NULL "
                   "CONSTRAINT ck_orders_member_discount_nonnegative CHECK (member_discount_cents >= 0)")
        op.execute("ALTER TABLE orders ADD COLUMN wallet_cents INTEGER DEFAULT '0' NOT NULL "
                   "CONSTRAINT ck_orders_wallet_cents_nonnegative CHECK (wallet_cents >= 0)")
    else:
        op.add_column('orders', sa.Column('member_discount_cents', sa.Integer(), server_default='0', nullable=False))
        op.add_column('orders', sa.Column('wallet_cents', sa.Integer(), server_default='0', nullable=False))
        op.create_check_constraint(op.f('ck_orders_member_discount_nonnegative'), 'orders', 'member_discount_cents >= 0')
        op.create_check_constraint(op.f('ck_orders_wallet_cents_nonnegative'), 'orders', 'wallet_cents >= 0')

    with op.batch_alter_table('gateway_sessions', schema=None) as batch_op:  # nothing references gateway_sessions
        batch_op.add_column(sa.Column('charge_id', sa.Integer(), nullable=True))
        batch_op.alter_column('order_id', existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f('ix_gateway_sessions_charge_id'), ['charge_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_gateway_sessions_charge_id_charges'), 'charges', ['charge_id'],
                                    ['id'], ondelete='CASCADE')
        batch_op.create_check_constraint('order_or_charge', '(order_id IS NULL) <> (charge_id IS NULL)')

    with op.batch_alter_table('wallet_entries', schema=None) as batch_op:  # nothing references wallet_entries
        batch_op.drop_constraint(op.f('ck_wallet_entries_reason_valid'), type_='check')
        batch_op.create_check_constraint('reason_valid', _REASONS.format(extra="'hold_fee',"))



def _downgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.execute("DELETE FROM wallet_entries WHERE reason = 'hold_fee'")
    with op.batch_alter_table('wallet_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_wallet_entries_reason_valid'), type_='check')
        batch_op.create_check_constraint('reason_valid', _REASONS.format(extra=""))

    op.execute("DELETE FROM gateway_sessions WHERE order_id IS NULL")
    with op.batch_alter_table('gateway_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_gateway_sessions_order_or_charge'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_gateway_sessions_charge_id_charges'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_gateway_sessions_charge_id'))
        batch_op.alter_column('order_id', existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column('charge_id')

    if sqlite:
        op.execute("ALTER TABLE orders DROP COLUMN wallet_cents")
        op.execute("ALTER TABLE orders DROP COLUMN member_discount_cents")
    else:
        op.drop_constraint(op.f('ck_orders_wallet_cents_nonnegative'), 'orders', type_='check')
        op.drop_constraint(op.f('ck_orders_member_discount_nonnegative'), 'orders', type_='check')
        op.drop_column('orders', 'wallet_cents')
        op.drop_column('orders', 'member_discount_cents')

    op.execute("UPDATE order_lines SET rental_days = (rental_days + 6) / 7 WHERE rental_days IS NOT NULL")
    op.alter_column('order_lines', 'rental_days', new_column_name='rental_weeks')

    op.add_column('cart_lines', sa.Column('rental_weeks', sa.Integer(), server_default='1', nullable=False))
    op.execute("UPDATE cart_lines SET rental_weeks = (rental_days + 6) / 7")
    with op.batch_alter_table('cart_lines', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_cart_lines_rental_days_positive'), type_='check')
        batch_op.drop_column('rental_days')
        batch_op.create_check_constraint('rental_weeks_positive', 'rental_weeks >= 1')

    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_index('uq_holds_open_user_book', sqlite_where=sa.text("status IN ('waiting','ready')"), postgresql_where=sa.text("status IN ('waiting','ready')"))
        batch_op.drop_index('ix_holds_user_status')
        batch_op.drop_index('ix_holds_status_expires')
        batch_op.drop_index('ix_holds_queue')
        batch_op.drop_index(batch_op.f('ix_holds_order_id'))

    op.drop_table('holds')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriptions_tier_period_end')

    op.drop_table('subscriptions')
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_index('ix_charges_user_created')

    op.drop_table('charges')
