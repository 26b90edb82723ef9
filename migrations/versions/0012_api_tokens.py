"""JSON API tokens: a token family is a user_sessions row of kind 'api' (listed and ended with the browser
sessions); every refresh token it was given is a row of api_refresh_tokens, by hash, used once.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 10:40:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), server_default='web', nullable=False))
        batch_op.add_column(sa.Column('client_name', sa.String(length=60), nullable=True))
    op.create_table('api_refresh_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['user_sessions.id'],
                            name=op.f('fk_api_refresh_tokens_session_id_user_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_refresh_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_refresh_tokens_token_hash'))
    )
    op.create_index('ix_api_refresh_tokens_session', 'api_refresh_tokens', ['session_id'], unique=False)


def downgrade():
    op.drop_index('ix_api_refresh_tokens_session', table_name='api_refresh_tokens')
    op.drop_table('api_refresh_tokens')
    op.execute("DELETE FROM user_sessions WHERE kind = 'api'")
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('client_name')
        batch_op.drop_column('kind')
