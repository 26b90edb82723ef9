"""The shop's own pages (Markdown staff edit), guest orders, series and formats, "Notify me" when back in stock.

Everything is added in place, no SQLite batch rebuild: orders is referenced everywhere, and rebuilding books would
drop its FTS triggers (0001); on SQLite the CHECKs are column constraints of the added columns.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 17:05:00

"""
import warnings

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with warnings.catch_warnings():  # SQLite batch mode reflects expression indexes it cannot describe
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        _upgrade()


def downgrade():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        _downgrade()


def _upgrade():
    op.create_table(
        'site_pages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=40), nullable=False),
        sa.Column('title', sa.String(length=120), nullable=False),
        sa.Column('body_md', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_site_pages_updated_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_site_pages')),
        sa.UniqueConstraint('slug', name=op.f('uq_site_pages_slug')),
    )
    op.create_table(
        'back_in_stock_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('book_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['book_id'], ['books.id'], name=op.f('fk_back_in_stock_requests_book_id_books'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_back_in_stock_requests_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_back_in_stock_requests')),
        sa.UniqueConstraint('book_id', 'user_id', name='uq_back_in_stock_book_user'),
    )
    op.create_index('ix_back_in_stock_book_waiting', 'back_in_stock_requests', ['book_id'], unique=False,
                    sqlite_where=sa.text('notified_at IS NULL'), postgresql_where=sa.text('notified_at IS NULL'))
    op.create_index(op.f('ix_back_in_stock_requests_user_id'), 'back_in_stock_requests', ['user_id'], unique=False)

    if op.get_bind().dialect.name == 'sqlite':
        # Column CHECKs in place: a batch rebuild of `books` would drop its FTS triggers (0001).
        op.execute("ALTER TABLE books ADD COLUMN format VARCHAR(12) DEFAULT 'paperback' NOT NULL "
                   "CONSTRAINT ck_books_format_valid CHECK (format IN ('paperback', 'hardcover'))")
        op.add_column('books', sa.Column('series_name', sa.String(length=160), nullable=True))
        op.execute("ALTER TABLE books ADD COLUMN series_number INTEGER "
                   "CONSTRAINT ck_books_series_number_positive CHECK (series_number IS NULL OR series_number > 0)")
    else:
        op.add_column('books', sa.Column('format', sa.String(length=12), server_default='paperback', nullable=False))
        op.add_column('books', sa.Column('series_name', sa.String(length=160), nullable=True))
        op.add_column('books', sa.Column('series_number', sa.Integer(), nullable=True))
        op.create_check_constraint(op.f('ck_books_format_valid'), 'books', "format IN ('paperback', 'hardcover')")
        op.create_check_constraint(op.f('ck_books_series_number_positive'), 'books',
                                   'series_number IS NULL OR series_number > 0')
    op.create_index('ix_books_series', 'books', ['series_name', 'series_number'], unique=False)

    op.add_column('orders', sa.Column('guest', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index('uq_orders_guest_idempotency_key', 'orders', ['idempotency_key'], unique=True,
                    sqlite_where=sa.text('user_id IS NULL'), postgresql_where=sa.text('user_id IS NULL'))
    op.create_index('ix_orders_guest_email', 'orders', ['email'], unique=False,
                    sqlite_where=sa.text('guest'), postgresql_where=sa.text('guest'))


def _downgrade():
    op.drop_index('ix_orders_guest_email', table_name='orders')
    op.drop_index('uq_orders_guest_idempotency_key', table_name='orders')
    # Plain DROP COLUMN (SQLite 3.35+ too): no batch rebuild of `orders` (referenced everywhere) or `books`
    # (its FTS triggers); a column's own CHECK goes with it.
    op.drop_column('orders', 'guest')
    op.drop_index('ix_books_series', table_name='books')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f('ck_books_series_number_positive'), 'books', type_='check')
        op.drop_constraint(op.f('ck_books_format_valid'), 'books', type_='check')
    op.drop_column('books', 'series_number')
    op.drop_column('books', 'series_name')
    op.drop_column('books', 'format')

    op.drop_index(op.f('ix_back_in_stock_requests_user_id'), table_name='back_in_stock_requests')
    op.drop_index('ix_back_in_stock_book_waiting', table_name='back_in_stock_requests')
    op.drop_table('back_in_stock_requests')
    op.drop_table('site_pages')
