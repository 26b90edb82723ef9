"""Report charts stored by name: background_tasks.output_charts (JSON, {name: svg}) replaces output_svg, the one
text column that held every chart of a report behind a `<!--chart:NAME-->` marker.

Upgrade reads each row's marker text as the old code's `chart_from` did: a marker opens a chart, which runs to
the next `<!--chart:` (or the end); of two charts with one name the first is the one that was shown. Text before
the first marker (all of it, when there is no marker) was never shown under any name: it is kept under the name
"" (which no template asks for) so that the downgrade can put it back. An unclosed `<!--chart:`, a marker with
an empty name and a second chart with a name already seen were never shown either, and are not kept; the code
never wrote any of them. NULL stays NULL; an empty text becomes {}.

Downgrade writes the marker text back: the "" text first, then each chart behind its marker, in the mapping's
order (JSON keeps it: PostgreSQL's `json` stores the text as written, SQLite a string).

The rows are converted in Python, a batch of ids at a time, so the same code runs on PostgreSQL and SQLite.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 12:00:00

"""
import warnings

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

MARK = '<!--chart:{}-->'
MARK_START = '<!--chart:'
BATCH = 200

tasks = sa.table('background_tasks',
                 sa.column('id', sa.Integer()),
                 sa.column('output_svg', sa.Text()),
                 sa.column('output_charts', sa.JSON()))


def charts_from_text(text):
    """The old marker text as {name: svg} (see the docstring); None stays None."""
    if text is None:
        return None
    head, *parts = text.split(MARK_START)
    charts = {'': head} if head else {}
    for part in parts:
        name, closed, svg = part.partition('-->')
        if closed and name and name not in charts:
            charts[name] = svg
    return charts


def text_from_charts(charts):
    """{name: svg} as the old marker text; None stays None."""
    if charts is None:
        return None
    return charts.get('', '') + ''.join(MARK.format(name) + svg for name, svg in charts.items() if name)


def _convert(source, target, convert):
    """Set `target` from `source` on every row whose `source` is not NULL, BATCH rows at a time."""
    bind = op.get_bind()
    ids = bind.execute(sa.select(tasks.c.id).where(source.isnot(None)).order_by(tasks.c.id)).scalars().all()
    for at in range(0, len(ids), BATCH):
        rows = bind.execute(sa.select(tasks.c.id, source).where(tasks.c.id.in_(ids[at:at + BATCH]))).all()
        for task_id, value in rows:
            bind.execute(tasks.update().where(tasks.c.id == task_id).values({target.name: convert(value)}))


def upgrade():
    with warnings.catch_warnings(), op.batch_alter_table('background_tasks', schema=None) as batch_op:
        # Nothing references background_tasks, so SQLite's rebuild is safe; reflecting users warns (expression index).
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        batch_op.add_column(sa.Column('output_charts', sa.JSON(), nullable=True))
    _convert(tasks.c.output_svg, tasks.c.output_charts, charts_from_text)
    with warnings.catch_warnings(), op.batch_alter_table('background_tasks', schema=None) as batch_op:
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        batch_op.drop_column('output_svg')


def downgrade():
    with warnings.catch_warnings(), op.batch_alter_table('background_tasks', schema=None) as batch_op:
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        batch_op.add_column(sa.Column('output_svg', sa.Text(), nullable=True))
    _convert(tasks.c.output_charts, tasks.c.output_svg, text_from_charts)
    with warnings.catch_warnings(), op.batch_alter_table('background_tasks', schema=None) as batch_op:
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        batch_op.drop_column('output_charts')
