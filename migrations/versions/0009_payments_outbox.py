"""Payments you can trust: the outbox, payment issues for staff, resumable checkouts (payment URL, checkout key,
idempotency key), charge expiry for reconciliation, one payment intent per test-gateway session.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:00:00

"""
import warnings

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending','delivered','failed')", name=op.f('ck_outbox_messages_status_valid')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_outbox_messages_attempts_nonnegative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
    sa.UniqueConstraint('key', name=op.f('uq_outbox_messages_key'))
    )
    op.create_index('ix_outbox_messages_status_due', 'outbox_messages', ['status', 'next_attempt_at'], unique=False)

    op.create_table('payment_issues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reference', sa.String(length=160), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('charge_id', sa.Integer(), nullable=True),
    sa.Column('amount_cents', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolution', sa.String(length=300), nullable=True),
    sa.CheckConstraint("kind IN ('amount_mismatch','outbox_failed','provider_refund')", name=op.f('ck_payment_issues_kind_valid')),
    sa.ForeignKeyConstraint(['charge_id'], ['charges.id'], name=op.f('fk_payment_issues_charge_id_charges'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_payment_issues_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_payment_issues_resolved_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_issues')),
    sa.UniqueConstraint('kind', 'reference', name='uq_payment_issues_kind_reference')
    )
    op.create_index('ix_payment_issues_open', 'payment_issues', ['resolved_at', 'created_at'], unique=False)
    op.create_index(op.f('ix_payment_issues_order_id'), 'payment_issues', ['order_id'], unique=False)
    op.create_index(op.f('ix_payment_issues_charge_id'), 'payment_issues', ['charge_id'], unique=False)

    # Plain ADD COLUMN / CREATE INDEX: orders and charges are referenced by other tables, so no SQLite rebuild.
    op.add_column('orders', sa.Column('payment_url', sa.Text(), nullable=True))
    op.add_column('orders', sa.Column('checkout_key', sa.String(length=64), nullable=True))
    op.add_column('orders', sa.Column('idempotency_key', sa.String(length=64), nullable=True))
    op.create_index('uq_orders_user_idempotency_key', 'orders', ['user_id', 'idempotency_key'], unique=True)

    op.add_column('charges', sa.Column('payment_url', sa.Text(), nullable=True))
    op.add_column('charges', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('charges', sa.Column('refunded_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_charges_status_expires', 'charges', ['status', 'expires_at'], unique=False)
    op.create_index(op.f('ix_charges_payment_intent_id'), 'charges', ['payment_intent_id'], unique=False)
    # Charges opened before this revision: their payment page closed 30 minutes after they were made.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("UPDATE charges SET expires_at = datetime(created_at, '+30 minutes') WHERE expires_at IS NULL")
    else:
        op.execute("UPDATE charges SET expires_at = created_at + interval '30 minutes' WHERE expires_at IS NULL")

    with warnings.catch_warnings(), op.batch_alter_table('gateway_sessions', schema=None) as batch_op:
        # Nothing references gateway_sessions, so SQLite's rebuild is safe; reflecting its neighbours warns about
        # users' expression index, which SQLite cannot describe.
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        batch_op.add_column(sa.Column('amount_refunded', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_gateway_sessions_payment_intent_id'), ['payment_intent_id'])
        batch_op.create_check_constraint('refund_within_amount',
                                         'amount_refunded >= 0 AND amount_refunded <= amount_total')


def downgrade():
    with warnings.catch_warnings(), op.batch_alter_table('gateway_sessions', schema=None) as batch_op:
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        batch_op.drop_constraint(batch_op.f('ck_gateway_sessions_refund_within_amount'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_gateway_sessions_payment_intent_id'), type_='unique')
        batch_op.drop_column('amount_refunded')

    op.drop_index(op.f('ix_charges_payment_intent_id'), table_name='charges')
    op.drop_index('ix_charges_status_expires', table_name='charges')
    op.drop_column('charges', 'refunded_at')
    op.drop_column('charges', 'expires_at')
    op.drop_column('charges', 'payment_url')

    op.drop_index('uq_orders_user_idempotency_key', table_name='orders')
    op.drop_column('orders', 'idempotency_key')
    op.drop_column('orders', 'checkout_key')
    op.drop_column('orders', 'payment_url')

    op.drop_index(op.f('ix_payment_issues_charge_id'), table_name='payment_issues')
    op.drop_index(op.f('ix_payment_issues_order_id'), table_name='payment_issues')
    op.drop_index('ix_payment_issues_open', table_name='payment_issues')
    op.drop_table('payment_issues')
    op.drop_index('ix_outbox_messages_status_due', table_name='outbox_messages')
    op.drop_table('outbox_messages')
