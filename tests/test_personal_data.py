"""Personal data at rest (issue 9, item 5): plates and names sealed, found by blind indexes; codes hashed;
keys rotated; the retention rule; private files. Real SQLite files and the PostgreSQL server."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from attendant.core.errors import InputError, Refused, TicketInvalid
from attendant.core.personal_data import PersonalData, rotate_data_keys, site_data
from attendant.core.retention import run_retention, set_hold
from db.models import AuditEvent, Iou, ParkingSession, PassHolder, Vehicle

PS, IOU, PASS, V, AUD = (t.__table__ for t in (ParkingSession, Iou, PassHolder, Vehicle, AuditEvent))


def raw_bytes(db_path: Path) -> bytes:
    """The database as stored: the main file and its write-ahead log."""
    return b"".join(Path(f"{db_path}{suffix}").read_bytes() for suffix in ("", "-wal")
                    if Path(f"{db_path}{suffix}").exists())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_demo_run_leaves_no_plate_name_or_code_in_the_database_file(tmp_path, attendant_home):
    """The real demo traffic replayed through the booth, a pass, an IOU: the file holds none of them in clear."""
    from attendant.booth import EntryRequest, ExitRequest, open_booth
    from attendant.core.auth import Actor, Role
    from attendant.demo import TrafficReplayer, demo_config, ensure_demo_db

    db_path = attendant_home / "data" / "demo-run.db"
    engine = ensure_demo_db(f"sqlite:///{db_path}", actor="test")
    start = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    booth = open_booth(engine, demo_config(), clock=lambda: start)
    replayer = TrafficReplayer(booth, clock=lambda: start)
    replayer.yield_seconds = 0
    assert replayer.prefill(until=start) > 100
    service = booth.service
    admin = Actor("boss", Role.ADMIN)
    holder = "Margaret Thistlethwaite"
    service.create_pass(actor=admin, holder_name=holder, plate="PA55 HLD", valid_from=start,
                        valid_to=start + timedelta(days=30))
    debtor = service.admit(EntryRequest("IOU 0WE", "car", at=start - timedelta(hours=3),
                                        backdate_reason="EQUIPMENT: entered on paper"), actor=admin)
    assert service.settle(ExitRequest(debtor.code, iou_reason="card declined", at=start), actor=admin).iou_amount
    booth.close()
    with engine.connect() as conn:
        sessions = conn.execute(select(PS.c.plate, PS.c.code, PS.c.ticket_no)).all()
    engine.dispose()
    plates = {service.data.open(r.plate) for r in sessions if r.plate}
    codes = [service._code_of(r.ticket_no, r.code) for r in sessions]
    assert len(plates) > 100 and {"IOU0WE"} <= plates and all(codes)
    blob = raw_bytes(db_path)
    found = [p for p in plates | {"PA55HLD"} if p.encode() in blob]
    assert found == [], f"plates in clear in the database file: {found[:5]}"
    assert holder.encode() not in blob and b"Thistlethwaite" not in blob
    assert [c for c in codes if c.encode() in blob] == []
    assert mode(db_path) == 0o600 and mode(db_path.parent) == 0o700 and mode(attendant_home / "config") == 0o700
    assert mode(attendant_home / "config" / "data-keys.json") == 0o600


def test_a_new_database_file_and_folders_are_private(tmp_path, attendant_home):
    from attendant.paths import config_dir, data_dir
    from db.engine import make_engine

    target = tmp_path / "fresh" / "booth.db"
    make_engine(f"sqlite:///{target}").dispose()
    assert mode(target) == 0o600 and mode(target.parent) == 0o700
    assert mode(data_dir()) == 0o700 and mode(config_dir()) == 0o700


def test_lookups_by_plate_exact_and_tolerant_run_on_blind_indexes(service, small_engine, clock):
    entry = service.enter("AB12 CDE", "car", actor="t")
    with small_engine.connect() as conn:
        row = conn.execute(select(PS).where(PS.c.id == entry.session_id)).one()
        vehicle = conn.execute(select(V)).one()
    pd = service.data
    assert row.plate.startswith(f"{pd.current}:") and "AB12CDE" not in row.plate
    assert row.plate_hash == pd.plate_index("AB12CDE") and row.plate_fold == pd.plate_fold_index("A812C0E")
    assert vehicle.plate == pd.plate_index("AB12CDE")
    assert service.find_by_plate("ab12cde").ticket_no == entry.ticket_no  # exact
    assert service.find_by_plate("A812C0E").ticket_no == entry.ticket_no  # a reader's B/8, D/0
    assert service.exit_code_for("AB12CDE") == (entry.code, "plate")
    assert [v.ticket_no for v, _score in service.plate_candidates("AB12CDF")] == [entry.ticket_no]
    with pytest.raises(Refused, match="anti-passback"):
        service.enter("AB12CDE", "car", actor="t")
    twin = service.enter("A812CDE", "car", actor="t")  # another plate that folds the same way
    with pytest.raises(InputError, match="A812CDE, AB12CDE"):
        service.find_by_plate("AB12C0E")
    clock.now += timedelta(hours=1)
    assert service.exit(twin.code, method="cash", actor="t").plate == "A812CDE"


def test_ticket_codes_are_stored_as_hashes_and_checked_against_them(service, small_engine, clock):
    first = service.enter("AAA111", "car", actor="t")
    second = service.enter("BBB222", "car", actor="t")
    with small_engine.connect() as conn:
        stored = conn.execute(select(PS.c.code).where(PS.c.id == first.session_id)).scalar_one()
    assert stored == service.data.code_hash(first.code) and first.code not in stored
    assert service.ticket(first.ticket_no).code == first.code  # a reprint finds the code from its hash
    assert service.exit_code_for(first.ticket_no) == (first.code, "ticket number")
    with small_engine.begin() as conn:  # the stored hash no longer matches what the code names
        other = service.data.code_hash(service.signer.sign(service.facility.code, 999))
        conn.execute(update(PS).where(PS.c.id == first.session_id).values(code=other))
    with pytest.raises(TicketInvalid, match="was not issued"):
        service.lookup(first.code)
    clock.now += timedelta(minutes=30)
    assert service.exit(second.code, method="cash", actor="t").ticket_no == second.ticket_no


def test_audit_events_name_plates_by_blind_index_and_passes_without_the_holder(service, small_engine, clock):
    from attendant.core.auth import Actor, Role

    service.enter("AB12CDE", "car", actor="t")
    service.create_pass(actor=Actor("sue", Role.SUPERVISOR), holder_name="Ann Example", plate="PP11AAA",
                        valid_from=clock.now, valid_to=clock.now + timedelta(days=1))
    with small_engine.connect() as conn:
        details = [r.details for r in conn.execute(select(AUD.c.details))]
    dumped = json.dumps(details)
    assert "AB12CDE" not in dumped and "PP11AAA" not in dumped and "Ann Example" not in dumped
    assert {"plate_ref": service.data.plate_index("AB12CDE")}.items() <= details[-2].items()
    view = service.pass_info(service.create_pass(actor=Actor("sue", Role.SUPERVISOR), holder_name="Bo",
                                                 plate=None, valid_from=clock.now,
                                                 valid_to=clock.now + timedelta(days=1)))
    assert view.holder_name == "Bo" and view.plate is None


def test_keys_rotate_reencrypts_every_value_and_retires_the_old_key(service, small_engine, clock):
    from attendant.core.auth import Actor, Role
    from attendant.keyfiles import load_data_keys

    entries = [service.enter(f"ROT{i:03d}", "car", actor="t") for i in range(7)]
    service.create_pass(actor=Actor("sue", Role.SUPERVISOR), holder_name="Rita Rotate", plate="ROT000",
                        valid_from=clock.now, valid_to=clock.now + timedelta(days=1))
    service.add_concession(entries[1].code, "disabled_badge", badge="BADGE 4242", actor="t")  # issue 10 item 10
    service.add_account("ROTA", "Rota Holder", actor=Actor("sue", Role.SUPERVISOR))  # accounts.py
    service.add_plate_entry("deny", "ROT998", "BANNED", actor=Actor("sue", Role.SUPERVISOR))  # plate_lists.py
    clock.now += timedelta(hours=1)
    service.exit(entries[0].code, method="card", actor="t")
    old = load_data_keys()
    result = rotate_data_keys(small_engine, actor="admin")
    new = load_data_keys()
    assert result["key"] == new.current != old.current and list(new.keys) == [new.current]
    assert result["retired"] == [old.current] and result["kept"] == []
    assert result["resealed"] == {"parking_session.plate": 7, "iou.plate": 0, "pass_holder.plate": 1,
                                  "pass_holder.holder_name": 1, "session_concession.badge": 1, "account.holder": 1,
                                  "plate_list_entry.plate": 1,
                                  "reservation.plate": 0, "reservation.holder_name": 0, "reservation.holder_contact": 0}
    assert service.concessions_of(entries[1].code)[0].badge == "•••• 4242"  # opens under the new key
    assert new.index_key == old.index_key  # the blind indexes stay valid
    with small_engine.connect() as conn:
        sealed = [r.plate for r in conn.execute(select(PS.c.plate))]
        holder = conn.execute(select(PASS.c.holder_name)).scalar_one()
    assert all(p.startswith(f"{new.current}:") for p in sealed) and holder.startswith(f"{new.current}:")
    # the running service follows the key file: it reads the re-sealed rows and seals under the new key
    assert service.find_by_plate("ROT003").plate == "ROT003"
    later = service.enter("ROT999", "car", actor="t")
    with small_engine.connect() as conn:
        assert conn.execute(select(PS.c.plate).where(PS.c.id == later.session_id)).scalar_one().startswith(
            f"{new.current}:")
    assert site_data().open(sealed[1]) == "ROT001"
    assert PersonalData(new).open(holder) == "Rita Rotate"
    assert service.account("ROTA").holder == "Rota Holder" and service.plate_entries()[0].plate == "ROT998"


def test_retention_erases_old_plates_unless_an_iou_or_a_dispute_holds_them(service, small_engine, clock):
    from attendant.booth import ExitRequest
    from attendant.core.auth import Actor, PermissionDenied, Role

    sup = Actor("sue", Role.SUPERVISOR)
    t0 = clock.now
    paid, debtor, disputed, recent = (service.enter(p, "car", actor="t") for p in
                                      ("OLD1", "OWES1", "DISP1", "NEW1"))
    clock.now = t0 + timedelta(hours=2)
    service.exit(paid.code, method="cash", actor="t")
    assert service.settle(ExitRequest(debtor.code, iou_reason="card declined"), actor="t").iou_amount > 0
    service.exit(disputed.code, method="cash", actor="t")
    set_hold(small_engine, service.facility.id, int(disputed.ticket_no), actor=sup, reason="chargeback 42")
    clock.now = t0 + timedelta(days=91)
    service.exit(recent.code, method="cash", actor="t")
    with pytest.raises(PermissionDenied):
        run_retention(small_engine, days=90, actor="t")
    with pytest.raises(InputError, match="--days"):
        run_retention(small_engine, days=0, actor=sup)
    result = run_retention(small_engine, days=90, actor=sup, now=clock.now)
    with small_engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(PS))}
        ious = conn.execute(select(IOU)).all()
    erased = {sid for sid, r in rows.items() if r.plate is None}
    assert erased == {paid.session_id} and result.erased == 1
    assert rows[paid.session_id].plate_hash is None and rows[paid.session_id].plate_fold is None
    assert rows[paid.session_id].amount_paid > 0  # the money stays
    assert result.held_by_dispute == 1 and result.held_by_iou == 1
    assert rows[debtor.session_id].plate is not None and ious[0].plate is not None  # unpaid: kept for recovery
    assert rows[recent.session_id].plate is not None  # closed within the period
    set_hold(small_engine, service.facility.id, int(disputed.ticket_no), actor=sup, reason=None, hold=False)
    assert run_retention(small_engine, days=90, actor=sup, now=clock.now).erased == 1
    with small_engine.connect() as conn:
        assert conn.execute(select(PS.c.plate).where(PS.c.id == disputed.session_id)).scalar_one() is None
        actions = [r.action for r in conn.execute(select(AUD.c.action).where(AUD.c.action.like("retention.%")))]
    assert actions == ["retention.hold", "retention.run", "retention.release", "retention.run"]


def test_retention_from_the_cli_with_a_hold(cli):
    entry = cli.json("enter", "CLI 0LD")
    cli.run("exit", entry["code"], "--pay", "card")
    cli.run("retention", "hold", entry["ticket_no"], "--reason", "complaint 7")
    assert cli.run("retention", "hold", entry["ticket_no"], "--reason", " ", expect=2).stderr.startswith(
        "attendant: a retention hold needs a reason")
    out = cli.json("retention", "run", "--days", "1")  # a fresh exit is inside the period
    assert out["erased"] == 0 and out["days"] == 1 and out["held_by_dispute"] == 0
    assert cli.run("retention", "run", "--days", "-3", expect=2).stderr.startswith("attendant: --days must be")


MIGRATION_ROWS = [
    "INSERT INTO facility (id, code, name, timezone, currency, capacity, next_ticket_no, revision, "
    "allocation_strategy, created_at) VALUES (1, 'OLD', 'Old', 'UTC', 'GBP', 1, 1, 0, 'nearest', '2026-01-01 00:00:00')",
    "INSERT INTO level (id, facility_id, code, name, ordinal, map) VALUES (1, 1, 'L0', 'Ground', 0, 'R')",
    "INSERT INTO spot (id, facility_id, level_id, label, zone, spot_type, status, row, col, rank) "
    "VALUES (1, 1, 1, 'L0-A01', 'A', 'regular', 'occupied', 0, 0, 0)",
    "INSERT INTO vehicle (id, plate, vehicle_class, ev, created_at) VALUES (1, 'OLD123', 'car', false, "
    "'2026-01-01 00:00:00')",
    "INSERT INTO parking_session (id, facility_id, ticket_no, code, vehicle_id, plate, vehicle_class, ev, spot_id, "
    "spot_type, status, entry_at, amount_paid, entry_actor, discount) VALUES (1, 1, 1, :code, 1, 'OLD123', 'car', "
    "false, 1, 'regular', 'open', '2026-01-01 09:00:00', 0, 't', 0)",
    "INSERT INTO iou (id, facility_id, session_id, plate, amount, reason, status, created_at, actor) "
    "VALUES (1, 1, 1, 'OLD123', 500, 'r', 'open', '2026-01-01 10:00:00', 't')",
    "INSERT INTO pass_holder (id, facility_id, code, plate, holder_name, valid_from, valid_to, active, created_at) "
    "VALUES (1, 1, 'P-AAAA-BBBB', 'OLD123', 'Olive Oldrow', '2026-01-01 00:00:00', '2027-01-01 00:00:00', true, "
    "'2026-01-01 00:00:00')",
    "INSERT INTO audit_event (facility_id, at, effective_at, actor, action, entity, entity_id, details) VALUES "
    "(1, '2026-01-01 09:00:00', '2026-01-01 09:00:00', 't', 'session.enter', 'parking_session', 1, "
    "'{\"ticket_no\": 1, \"plate\": \"OLD123\"}')",
]


def test_the_migration_converts_rows_already_there(db_url):
    """A database at 0010 with plates, a name and a code in clear: after 0012 they are sealed, indexed and
    hashed, the lookups find them, and the legacy-format code still opens its ticket."""
    from alembic import command

    from attendant.core.services import ParkingService
    from attendant.core.tickets import TicketSigner
    from db.engine import alembic_config, make_engine

    signer = TicketSigner.from_site()
    legacy = f"OLD-00000001-{signer._signature('OLD', 1)}"  # the code format before key ids
    engine = make_engine(db_url, migrate=False)
    command.upgrade(alembic_config(engine), "0010_bay_claims")
    with engine.begin() as conn:
        for statement in MIGRATION_ROWS:
            conn.execute(text(statement), {"code": legacy} if ":code" in statement else {})
    engine.dispose()
    engine = make_engine(db_url)
    pd = site_data()
    with engine.connect() as conn:
        session = conn.execute(select(PS)).one()
        iou = conn.execute(select(IOU)).one()
        holder = conn.execute(select(PASS)).one()
        vehicle = conn.execute(select(V)).one()
        details = conn.execute(select(AUD.c.details)).scalar_one()
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    assert session.code == pd.code_hash(legacy) and pd.open(session.plate) == "OLD123"
    assert (session.plate_hash, session.plate_fold) == (pd.plate_index("OLD123"), pd.plate_fold_index("OLD123"))
    assert pd.open(iou.plate) == "OLD123" and iou.plate_hash == pd.plate_index("OLD123")
    assert pd.open(holder.holder_name) == "Olive Oldrow" and holder.plate_hash == pd.plate_index("OLD123")
    assert vehicle.plate == pd.plate_index("OLD123")
    details = json.loads(details) if isinstance(details, str) else details
    assert details == {"ticket_no": 1, "plate_ref": pd.plate_index("OLD123")}
    service = ParkingService(engine, signer, facility_code="OLD")
    assert service.find_by_plate("0LD123").code == legacy
    assert service.lookup(legacy).plate == "OLD123"
    with pytest.raises(Refused, match="anti-passback"):
        service.enter("OLD123", "car", actor="t")
    service.close()
    engine.dispose()


def test_the_retention_period_comes_from_the_console_config(tmp_path):
    from hardware.config import default_config, parse_config

    lanes = '[[lanes]]\ncode = "E1"\nname = "Entry 1"\ndirection = "entry"\n'
    assert default_config().retention_days == 90
    assert parse_config(f"[console]\nretention_days = 30\n{lanes}").retention_days == 30
    for bad in ("0", "-5", '"ninety"', "true", "1e3"):
        with pytest.raises(InputError, match="console.retention_days"):
            parse_config(f"[console]\nretention_days = {bad}\n{lanes}")
