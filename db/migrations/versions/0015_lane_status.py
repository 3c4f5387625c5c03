"""lane_status: each booth's lanes as its console shows them, followed live by every other console

Revision ID: 0015_lane_status
Revises: 0013_time_bounds
Create Date: 2026-12-04

A supervisor's console, or a second booth, sees every lane of the site: its
gate, the devices in trouble, the tickets waiting for a reprint and the
vehicles queueing (issue "A site, not a booth", item 3: "lane queues ...
within one second"). A booth upserts one row per lane it drives; triggers log
each write and removal to ``change_log`` (kind ``lane``; ``gone`` when a
console withdraws its lanes), like the bay, entry, exit and
payment triggers of 0009_change_feed, so the watchers need nothing new. The
body names the booth, the lane, the gate and the counts: no plates.
"""
import sqlalchemy as sa

import db.types
from alembic import op

revision = '0015_lane_status'
down_revision = '0013_time_bounds'
branch_labels = None
depends_on = None

_SQLITE_BODY = """json_object('booth', NEW.booth, 'lane', NEW.lane, 'direction', NEW.direction, 'gate', NEW.gate,
                        'queue', json_array_length(NEW.queue), 'reprints', NEW.reprints)"""

SQLITE = [
    f"""CREATE TRIGGER change_lane_new AFTER INSERT ON lane_status
    BEGIN
        INSERT INTO change_log (facility_id, kind, body) VALUES (NEW.facility_id, 'lane', {_SQLITE_BODY});
    END""",
    f"""CREATE TRIGGER change_lane AFTER UPDATE ON lane_status
    BEGIN
        INSERT INTO change_log (facility_id, kind, body) VALUES (NEW.facility_id, 'lane', {_SQLITE_BODY});
    END""",
    """CREATE TRIGGER change_lane_gone AFTER DELETE ON lane_status
    BEGIN
        INSERT INTO change_log (facility_id, kind, body) VALUES (OLD.facility_id, 'lane',
            json_object('booth', OLD.booth, 'lane', OLD.lane, 'gone', json('true')));
    END""",
]

POSTGRESQL = [
    """CREATE FUNCTION attendant_lane_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            INSERT INTO change_log (facility_id, kind, body) VALUES (OLD.facility_id, 'lane',
                json_build_object('booth', OLD.booth, 'lane', OLD.lane, 'gone', true)::text);
        ELSE
            INSERT INTO change_log (facility_id, kind, body) VALUES (NEW.facility_id, 'lane',
                json_build_object('booth', NEW.booth, 'lane', NEW.lane, 'direction', NEW.direction, 'gate', NEW.gate,
                                  'queue', json_array_length(NEW.queue::json), 'reprints', NEW.reprints)::text);
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER change_lane AFTER INSERT OR UPDATE OR DELETE ON lane_status FOR EACH ROW "
    "EXECUTE FUNCTION attendant_lane_change()",
]


def upgrade() -> None:
    op.create_table(
        'lane_status',
        sa.Column('facility_id', sa.Integer(), sa.ForeignKey('facility.id'), primary_key=True),
        sa.Column('booth', sa.String(length=64), primary_key=True),
        sa.Column('lane', sa.String(length=16), primary_key=True),
        sa.Column('direction', sa.String(length=8), nullable=False),
        sa.Column('gate', sa.String(length=12), nullable=True),
        sa.Column('gate_reason', sa.String(length=200), nullable=True),
        sa.Column('devices', sa.Text(), nullable=False),
        sa.Column('queue', sa.Text(), nullable=False),
        sa.Column('reprints', sa.Integer(), nullable=False),
        sa.Column('updated_at', db.types.UTCDateTime(), nullable=False),
    )
    for statement in (POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS change_lane ON lane_status")
        op.execute("DROP FUNCTION IF EXISTS attendant_lane_change()")
    else:
        for trigger in ("change_lane_new", "change_lane", "change_lane_gone"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.drop_table('lane_status')
