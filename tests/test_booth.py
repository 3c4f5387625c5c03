"""The booth: services plus lane devices, the one API of both front ends.

A printer that fails never undoes an entry: the ticket is queued and printed
when the printer is back. A gate opening is recorded only when a gate is
commanded, with what the gate did, so reports count real openings.
"""

from __future__ import annotations

import socket
from datetime import timedelta

from sqlalchemy import select

from attendant.booth import Booth, EntryRequest, ExitRequest, Tender
from attendant.core.views import PartPayment
from attendant.core.vocab import GateOutcome
from attendant.core.audit import AUDIT
from db.models import Payment, Vend
from hardware.config import parse_config
from tests.escpos_parse import parse
from tests.printer_sink import PrinterSink

VEND, PAY = Vend.__table__, Payment.__table__


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(entry_printer: str = "standin://", gate: str | None = "sim://?hold=600"):
    gate_line = f'gate = "{gate}"' if gate else ""
    return parse_config(
        f"""
        [[lanes]]
        code = "E1"
        name = "Entry 1"
        direction = "entry"
        printer = "{entry_printer}"
        {gate_line}
        [[lanes]]
        code = "X1"
        name = "Exit 1"
        direction = "exit"
        printer = "standin://"
        {gate_line}
        """,
        "booth.toml",
    )


def _vends(engine):
    with engine.connect() as conn:
        return conn.execute(select(VEND).order_by(VEND.c.id)).all()


def test_failed_ticket_is_queued_then_reprinted_when_the_printer_returns(service):
    port = _free_port()
    booth = Booth(service, _config(f"tcp://127.0.0.1:{port}", "sim://?hold=0.05"))
    try:
        outcome = booth.enter(EntryRequest("QU3 UED", "car", lane="E1"), actor="t")
        assert not outcome.printed and outcome.print_error and outcome.gate == GateOutcome.OPENED
        assert list(booth.reprint_queue["E1"]) == [outcome.entry.ticket_no]
        assert service.occupancy()[0] == 1  # the vehicle is in, by its plate

        sink = PrinterSink.on_port(port)
        try:
            printed, error = booth.retry_reprints("E1", actor="ann")
            assert (printed, error) == (1, None) and not booth.reprint_queue["E1"]
            assert parse(sink.wait_jobs(1)[0]).qr == [outcome.entry.code]
            # the copy is audited: who, where, and that it was the ticket's first paper
            with service.engine.connect() as conn:
                rows = conn.execute(select(AUDIT.c.actor, AUDIT.c.entity_id, AUDIT.c.details)
                                    .where(AUDIT.c.action == "ticket.reprint")).all()
            assert [(r.actor, r.entity_id, r.details) for r in rows] == [
                ("ann", outcome.entry.session_id, {"lane": "E1", "first_copy": True})]
        finally:
            sink.close()
    finally:
        booth.close()


def test_entry_and_paid_exit_record_the_openings_the_gates_made(service, small_engine, clock):
    booth = Booth(service, _config())
    try:
        entry = booth.enter(EntryRequest("AB12 CDE"), actor="t")
        clock.now += timedelta(hours=2)
        left = booth.exit(ExitRequest(entry.entry.code, (Tender("cash", tendered=1000),)), actor="t")
        assert (entry.gate, left.gate) == (GateOutcome.OPENED, GateOutcome.OPENED)
        assert booth.devices(booth.lanes["X1"]).gate.state == "open"  # the real barrier was commanded
        vends = _vends(small_engine)
        assert [(v.direction, v.lane, v.source, v.outcome) for v in vends] == [
            ("entry", "E1", "ticket", "opened"), ("exit", "X1", "payment", "opened")]
        assert [v.id for v in vends] == [entry.entry.vend_id, left.exit.vend_id]
    finally:
        booth.close()


def test_a_gate_that_refuses_is_recorded_as_a_fault(service, small_engine, clock):
    booth = Booth(service, _config())
    try:
        entry = booth.enter(EntryRequest("AB12 CDE"), actor="t")
        booth.devices(booth.lanes["X1"]).gate.close()  # the exit barrier is shut down: it refuses vends
        clock.now += timedelta(hours=1)
        left = booth.exit(ExitRequest(entry.entry.code, (Tender("card"),)), actor="t")
        assert left.gate == GateOutcome.FAULT and left.exit.paid == 240  # paid, out of the system, gate faulted
        exit_vend = _vends(small_engine)[-1]
        assert (exit_vend.outcome, exit_vend.source) == ("fault", "payment") and "shut down" in exit_vend.message
    finally:
        booth.close()


def test_no_opening_is_recorded_without_a_gate_or_when_not_vended(service, small_engine, clock):
    no_gate = Booth(service, _config(gate=None))
    try:
        entry = no_gate.enter(EntryRequest("AB12 CDE"), actor="t")
        assert entry.gate == GateOutcome.NO_GATE
        quiet = no_gate.enter(EntryRequest("CD34 EFG", vend=False), actor="t")
        assert quiet.gate == GateOutcome.NOT_VENDED
        clock.now += timedelta(hours=1)
        left = no_gate.exit(ExitRequest(entry.entry.code, (Tender("card"),)), actor="t")
        assert left.gate == GateOutcome.NO_GATE
    finally:
        no_gate.close()
    assert _vends(small_engine) == []


def test_a_part_payment_leaves_the_vehicle_inside_with_its_balance(service, small_engine, clock):
    booth = Booth(service, _config())
    try:
        entry = booth.enter(EntryRequest("AB12 CDE"), actor="t")
        clock.now += timedelta(hours=3)  # £7.20
        part = booth.exit(ExitRequest(entry.entry.code, (Tender("cash", 500, 1000),)), actor="t")
        assert isinstance(part, PartPayment)
        assert (part.checkout.balance, [p.change for p in part.taken]) == (220, [500])
        assert [v.direction for v in _vends(small_engine)] == ["entry"]  # the exit gate stayed shut
        left = booth.exit(ExitRequest(entry.entry.code, (Tender("card"),), expected_balance=220), actor="t")
        assert left.exit.method == "split" and left.exit.paid == 720 and left.gate == GateOutcome.OPENED
    finally:
        booth.close()


def test_a_retried_exit_returns_the_first_one_and_opens_nothing_more(service, small_engine, clock):
    booth = Booth(service, _config())
    try:
        entry = booth.enter(EntryRequest("AB12 CDE"), actor="t")
        clock.now += timedelta(hours=1)
        request = ExitRequest(entry.entry.code, (Tender("card"),), idempotency_key="X1-7")
        first = booth.exit(request, actor="t")
        again = booth.exit(request, actor="t")
        assert again.gate == GateOutcome.ALREADY_EXITED and again.exit.session_id == first.exit.session_id
        with small_engine.connect() as conn:
            assert len(conn.execute(select(PAY)).all()) == 1
        assert len(_vends(small_engine)) == 2
    finally:
        booth.close()
