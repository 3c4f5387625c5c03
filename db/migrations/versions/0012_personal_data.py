"""personal data at rest: plates and holder names encrypted, blind indexes, ticket codes hashed

Revision ID: 0012_personal_data
Revises: 0010_bay_claims
Create Date: 2026-12-04

Plates (``parking_session``, ``iou``, ``pass_holder``) and pass holders' names
become AES-256-GCM ciphertext; ``plate_hash`` / ``plate_fold`` hold keyed blind
indexes (HMAC-SHA256) that the lookups use; ``vehicle.plate`` holds the blind
index only; ``parking_session.code`` holds the ticket code's keyed hash; audit
details name plates by ``plate_ref`` (the blind index) and no longer carry pass
holders' names (:mod:`attendant.core.personal_data`). The keys live outside
the database (``data-keys.json`` in the config folder): a database with rows to
convert and no key file gets one made here, the one moment a site turns
encryption on; other booths then install it with ``attendant secret import``.

SQLite: the columns only grow (SQLite does not enforce a VARCHAR length), so
batch mode adds columns and indexes without copying a table: the change-log
triggers of ``0009_change_feed`` and the foreign keys stay as they are. No table
is dropped or copied, so the foreign keys need not be turned off (SQLite
ignores that pragma inside the migration's transaction anyway); the
conversion ends with ``PRAGMA foreign_key_check``. PostgreSQL: the columns are widened in place.
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0012_personal_data'
down_revision = '0010_bay_claims'
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")


def _grow(table: str, column: str, type_, nullable: bool = True) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(table, column, type_=type_, existing_nullable=nullable)


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    _grow("parking_session", "plate", sa.String(120))
    _grow("iou", "plate", sa.String(120))
    _grow("pass_holder", "plate", sa.String(120))
    _grow("pass_holder", "holder_name", sa.Text(), nullable=False)
    _grow("vehicle", "plate", sa.String(64), nullable=False)
    with op.batch_alter_table("parking_session", recreate="never") as batch:
        batch.add_column(sa.Column("plate_hash", sa.String(32), nullable=True))
        batch.add_column(sa.Column("plate_fold", sa.String(32), nullable=True))
        batch.add_column(sa.Column("retention_hold", sa.String(200), nullable=True))
    with op.batch_alter_table("iou", recreate="never") as batch:
        batch.add_column(sa.Column("plate_hash", sa.String(32), nullable=True))
    with op.batch_alter_table("pass_holder", recreate="never") as batch:
        batch.add_column(sa.Column("plate_hash", sa.String(32), nullable=True))

    _convert(bind)

    op.drop_index("uq_open_session_plate", table_name="parking_session")
    op.create_index("uq_open_session_plate", "parking_session", ["facility_id", "plate_hash"], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index("ix_session_open_plate_fold", "parking_session", ["facility_id", "plate_fold"],
                    sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index("ix_session_plate_hash", "parking_session", ["plate_hash"])
    op.drop_index("ix_iou_plate_status", table_name="iou")
    op.create_index("ix_iou_plate_status", "iou", ["facility_id", "plate_hash", "status"])
    op.drop_index("ix_pass_holder_plate", table_name="pass_holder")
    op.create_index("ix_pass_holder_plate_hash", "pass_holder", ["plate_hash"])
    if sqlite:
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign key check failed after 0012_personal_data: {broken[:5]}")


def _convert(bind) -> None:
    """Encrypt and index the rows already there (none in a new database: no key is needed then)."""
    counts = [bind.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
              for t in ("parking_session", "iou", "pass_holder", "vehicle")]
    audit_rows = bind.execute(sa.text(
        "SELECT id, details FROM audit_event WHERE details IS NOT NULL AND (CAST(details AS TEXT) LIKE '%plate%' "
        "OR CAST(details AS TEXT) LIKE '%holder%')")).fetchall()
    if not any(counts) and not audit_rows:
        return
    from attendant import keyfiles
    from attendant.core.personal_data import PersonalData

    try:
        keys = keyfiles.load_data_keys()
    except keyfiles.SecretMissing:
        keyfiles.ensure_data_keys()
        keys = keyfiles.load_data_keys()
    pd = PersonalData(keys)

    rows = bind.execute(sa.text("SELECT id, code, plate FROM parking_session")).fetchall()
    if rows:
        bind.execute(sa.text("UPDATE parking_session SET code = :code, plate = :plate, plate_hash = :plate_hash, "
                             "plate_fold = :plate_fold WHERE id = :id"),
                     [{"id": r.id, "code": pd.code_hash(r.code), **pd.plate_columns(r.plate)} for r in rows])
    rows = bind.execute(sa.text("SELECT id, plate FROM iou")).fetchall()
    if rows:
        bind.execute(sa.text("UPDATE iou SET plate = :plate, plate_hash = :plate_hash WHERE id = :id"),
                     [{"id": r.id, "plate": pd.seal(r.plate), "plate_hash": pd.plate_index(r.plate)} for r in rows])
    rows = bind.execute(sa.text("SELECT id, plate, holder_name FROM pass_holder")).fetchall()
    if rows:
        bind.execute(sa.text("UPDATE pass_holder SET plate = :plate, plate_hash = :plate_hash, "
                             "holder_name = :holder WHERE id = :id"),
                     [{"id": r.id, "plate": pd.seal(r.plate), "plate_hash": pd.plate_index(r.plate),
                       "holder": pd.seal(r.holder_name)} for r in rows])
    rows = bind.execute(sa.text("SELECT id, plate FROM vehicle")).fetchall()
    if rows:
        bind.execute(sa.text("UPDATE vehicle SET plate = :plate WHERE id = :id"),
                     [{"id": r.id, "plate": pd.plate_index(r.plate)} for r in rows])
    updates = []
    for r in audit_rows:
        details = json.loads(r.details) if isinstance(r.details, str) else r.details
        if not isinstance(details, dict) or not ({"plate", "holder"} & details.keys()):
            continue
        details = dict(details)
        plate = details.pop("plate", None)
        details.pop("holder", None)
        if plate:
            details["plate_ref"] = pd.plate_index(plate)
        updates.append({"id": r.id, "details": details})
    if updates:
        bind.execute(sa.text("UPDATE audit_event SET details = :details WHERE id = :id").bindparams(
            sa.bindparam("details", type_=sa.JSON)), updates)


def downgrade() -> None:
    """Plates and names back in clear, codes signed again (needs this booth's keys when rows exist)."""
    bind = op.get_bind()
    _restore(bind)
    op.drop_index("ix_pass_holder_plate_hash", table_name="pass_holder")
    op.create_index("ix_pass_holder_plate", "pass_holder", ["plate"])
    op.drop_index("ix_iou_plate_status", table_name="iou")
    op.create_index("ix_iou_plate_status", "iou", ["facility_id", "plate", "status"])
    op.drop_index("ix_session_plate_hash", table_name="parking_session")
    op.drop_index("ix_session_open_plate_fold", table_name="parking_session")
    op.drop_index("uq_open_session_plate", table_name="parking_session")
    op.create_index("uq_open_session_plate", "parking_session", ["facility_id", "plate"], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)
    for table, column in (("pass_holder", "plate_hash"), ("iou", "plate_hash"), ("parking_session", "retention_hold"),
                          ("parking_session", "plate_fold"), ("parking_session", "plate_hash")):
        if bind.dialect.name == "sqlite":  # SQLite 3.35+ drops a column in place: no table copy, triggers kept
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        else:
            op.drop_column(table, column)


def _restore(bind) -> None:
    rows = bind.execute(sa.text(
        "SELECT s.id, s.code, s.ticket_no, s.plate, f.code AS facility FROM parking_session s "
        "JOIN facility f ON f.id = s.facility_id")).fetchall()
    ious = bind.execute(sa.text("SELECT id, plate FROM iou")).fetchall()
    passes = bind.execute(sa.text("SELECT id, plate, holder_name FROM pass_holder")).fetchall()
    if not (rows or ious or passes):
        return
    from attendant import keyfiles
    from attendant.core.personal_data import PersonalData
    from attendant.core.tickets import TicketSigner

    pd = PersonalData(keyfiles.load_data_keys())
    keys = keyfiles.load_ticket_keys()
    signer = TicketSigner(keys.keys, keys.current)

    def code_of(r):
        return next((c for c in signer.codes_for(r.facility, r.ticket_no) if pd.code_hash(c) == r.code), r.code)

    if rows:
        bind.execute(sa.text("UPDATE parking_session SET code = :code, plate = :plate WHERE id = :id"),
                     [{"id": r.id, "code": code_of(r), "plate": pd.open(r.plate)} for r in rows])
    if ious:
        bind.execute(sa.text("UPDATE iou SET plate = :plate WHERE id = :id"),
                     [{"id": r.id, "plate": pd.open(r.plate)} for r in ious])
    if passes:
        bind.execute(sa.text("UPDATE pass_holder SET plate = :plate, holder_name = :holder WHERE id = :id"),
                     [{"id": r.id, "plate": pd.open(r.plate), "holder": pd.open(r.holder_name)} for r in passes])
    # vehicle.plate keeps the blind index: the plate a vehicle row stood for is not stored anywhere
