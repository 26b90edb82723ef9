"""Report rollups: daily sales per book, per genre and per day, all-time totals per book and author, their refresh state, the weekly summary's delivery record,
indexes on orders.updated_at / orders.paid_at for the incremental refresh (paid_at covering status and amounts, so
the admin home sums recent days from the index alone), and inventory (available, low_stock_threshold) for low-stock counts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sales_daily',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('book_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('units_sold', sa.Integer(), nullable=False),
    sa.Column('units_rented', sa.Integer(), nullable=False),
    sa.Column('revenue_cents', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'book_id', name=op.f('pk_sales_daily'))
    )
    op.create_index('ix_sales_daily_book_day', 'sales_daily', ['book_id', 'day'], unique=False)

    op.create_table('sales_daily_totals',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.Column('revenue_cents', sa.BigInteger(), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('cancelled_orders', sa.Integer(), nullable=False),
    sa.Column('cancelled_cents', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_sales_daily_totals'))
    )

    op.create_table('sales_daily_genres',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('genre_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('units_sold', sa.Integer(), nullable=False),
    sa.Column('units_rented', sa.Integer(), nullable=False),
    sa.Column('revenue_cents', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'genre_id', name=op.f('pk_sales_daily_genres'))
    )

    op.create_table('sales_book_totals',
    sa.Column('book_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('revenue_cents', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('book_id', name=op.f('pk_sales_book_totals'))
    )
    op.create_index('ix_sales_book_totals_units', 'sales_book_totals', ['units'], unique=False)

    op.create_table('sales_author_totals',
    sa.Column('author_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('revenue_cents', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('author_id', name=op.f('pk_sales_author_totals'))
    )
    op.create_index('ix_sales_author_totals_revenue', 'sales_author_totals', ['revenue_cents'], unique=False)

    op.create_table('report_rollup_state',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('watermark', sa.DateTime(timezone=True), nullable=False),
    sa.Column('full_rebuild_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('days_refreshed', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_report_rollup_state'))
    )

    op.create_table('weekly_summary_sends',
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('user_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('email_id', sa.Integer(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_weekly_summary_sends_user_id_users'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['email_id'], ['outbound_emails.id'],
                            name=op.f('fk_weekly_summary_sends_email_id_outbound_emails'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('week_start', 'user_id', name=op.f('pk_weekly_summary_sends'))
    )

    # orders is referenced by many tables: plain CREATE INDEX, never a batch rebuild on SQLite.
    op.create_index('ix_orders_updated_at', 'orders', ['updated_at'], unique=False)
    op.create_index('ix_orders_paid_at', 'orders', ['paid_at', 'status', 'total_cents', 'refunded_cents'], unique=False)
    op.create_index('ix_inventory_available_threshold', 'inventory', ['available', 'low_stock_threshold'], unique=False)
    op.create_index('ix_inventory_threshold_set', 'inventory', ['low_stock_threshold'], unique=False,
                    sqlite_where=sa.text('low_stock_threshold IS NOT NULL'),
                    postgresql_where=sa.text('low_stock_threshold IS NOT NULL'))


def downgrade():
    op.drop_index('ix_inventory_threshold_set', table_name='inventory', sqlite_where=sa.text('low_stock_threshold IS NOT NULL'),
                  postgresql_where=sa.text('low_stock_threshold IS NOT NULL'))
    op.drop_index('ix_inventory_available_threshold', table_name='inventory')
    op.drop_index('ix_orders_paid_at', table_name='orders')
    op.drop_index('ix_orders_updated_at', table_name='orders')
    op.drop_table('weekly_summary_sends')
    op.drop_table('report_rollup_state')
    op.drop_index('ix_sales_author_totals_revenue', table_name='sales_author_totals')
    op.drop_table('sales_author_totals')
    op.drop_index('ix_sales_book_totals_units', table_name='sales_book_totals')
    op.drop_table('sales_book_totals')
    op.drop_table('sales_daily_genres')
    op.drop_table('sales_daily_totals')
    op.drop_index('ix_sales_daily_book_day', table_name='sales_daily')
    op.drop_table('sales_daily')
