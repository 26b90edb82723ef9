"""Admin panel: background tasks (imports, reports), low-stock alerts, book cost price, author profiles
(Goodreads link, photo, encrypted bank account).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 15:10:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.create_table('background_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('params', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=10), server_default='queued', nullable=False),
    sa.Column('progress', sa.Integer(), server_default='0', nullable=False),
    sa.Column('total', sa.Integer(), server_default='0', nullable=False),
    sa.Column('message', sa.String(length=300), nullable=True),
    sa.Column('job_id', sa.String(length=64), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('output_csv', sa.Text(), nullable=True),
    sa.Column('output_svg', sa.Text(), nullable=True),
    sa.Column('input_text', sa.Text(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued','running','finished','failed')", name=op.f('ck_background_tasks_status_valid')),
    sa.CheckConstraint('progress >= 0 AND total >= 0', name=op.f('ck_background_tasks_progress_nonnegative')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_background_tasks_requested_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_background_tasks')),
    sa.UniqueConstraint('job_id', name=op.f('uq_background_tasks_job_id'))
    )
    with op.batch_alter_table('background_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_background_tasks_kind_created', ['kind', 'created_at'], unique=False)
        batch_op.create_index('ix_background_tasks_status', ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_background_tasks_requested_by_id'), ['requested_by_id'], unique=False)

    op.create_table('stock_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('book_id', sa.Integer(), nullable=False),
    sa.Column('available', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('digested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['book_id'], ['books.id'], name=op.f('fk_stock_alerts_book_id_books'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_alerts'))
    )
    with op.batch_alter_table('stock_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_stock_alerts_open_book', ['book_id'], unique=True,
                              sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))
        batch_op.create_index('ix_stock_alerts_digest', ['digested_at', 'created_at'], unique=False)

    # books and authors are referenced by many tables: changed in place, never batch-rebuilt on SQLite.
    if sqlite:
        op.execute("ALTER TABLE books ADD COLUMN cost_cents INTEGER "
                   "CONSTRAINT ck_books_cost_nonnegative CHECK (cost_cents IS NULL OR cost_cents >= 0)")
    else:
        op.add_column('books', sa.Column('cost_cents', sa.Integer(), nullable=True))
        op.create_check_constraint(op.f('ck_books_cost_nonnegative'), 'books', 'cost_cents IS NULL OR cost_cents >= 0')
    op.add_column('authors', sa.Column('goodreads_url', sa.String(length=255), nullable=True))
    op.add_column('authors', sa.Column('photo_path', sa.String(length=255), nullable=True))
    op.add_column('authors', sa.Column('bank_account_encrypted', sa.Text(), nullable=True))
    op.add_column('authors', sa.Column('bank_account_last4', sa.String(length=4), nullable=True))
    op.add_column('authors', sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for column in ('updated_at', 'bank_account_last4', 'bank_account_encrypted', 'photo_path', 'goodreads_url'):
        op.drop_column('authors', column)
    if sqlite:
        op.execute("ALTER TABLE books DROP COLUMN cost_cents")
    else:
        op.drop_constraint(op.f('ck_books_cost_nonnegative'), 'books', type_='check')
        op.drop_column('books', 'cost_cents')
    with op.batch_alter_table('stock_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_alerts_digest')
        batch_op.drop_index('ix_stock_alerts_open_book', sqlite_where=sa.text('resolved_at IS NULL'),
                            postgresql_where=sa.text('resolved_at IS NULL'))
    op.drop_table('stock_alerts')
    with op.batch_alter_table('background_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_background_tasks_requested_by_id'))
        batch_op.drop_index('ix_background_tasks_status')
        batch_op.drop_index('ix_background_tasks_kind_created')
    op.drop_table('background_tasks')
