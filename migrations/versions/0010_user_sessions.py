"""Server-side sessions: a row per signed-in device, named by the hash of the cookie's random token, carrying the
user's session version when the password was checked; email codes may be registration decoys.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 12:00:00

"""
import warnings

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=300), nullable=True),
    sa.Column('remember', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('session_version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_sessions_token_hash'))
    )
    op.create_index('ix_user_sessions_user_active', 'user_sessions', ['user_id', 'revoked_at', 'last_seen_at'],
                    unique=False)
    op.create_index('ix_user_sessions_last_seen', 'user_sessions', ['last_seen_at'], unique=False)

    with warnings.catch_warnings(), op.batch_alter_table('email_codes', schema=None) as batch_op:
        # Nothing references email_codes, so SQLite's rebuild is safe; reflecting users warns (expression index).
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        batch_op.drop_constraint(batch_op.f('ck_email_codes_purpose_valid'), type_='check')
        batch_op.create_check_constraint('purpose_valid', "purpose IN ('verify', 'change_email', 'decoy')")


def downgrade():
    op.execute("DELETE FROM email_codes WHERE purpose = 'decoy'")
    with warnings.catch_warnings(), op.batch_alter_table('email_codes', schema=None) as batch_op:
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        batch_op.drop_constraint(batch_op.f('ck_email_codes_purpose_valid'), type_='check')
        batch_op.create_check_constraint('purpose_valid', "purpose IN ('verify', 'change_email')")
    op.drop_index('ix_user_sessions_last_seen', table_name='user_sessions')
    op.drop_index('ix_user_sessions_user_active', table_name='user_sessions')
    op.drop_table('user_sessions')
