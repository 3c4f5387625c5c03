"""Pilot tests of the console: keys in, rows in the database and pixels on screen out.

Every test runs the app that :func:`attendant.tui.app.make_app` builds (the
CLI's wiring) on a real SQLite file holding the demo facility, with real
stand-in devices, a fixed clock and no replay thread. Tests wait for the
workers and the message queue (``settle``); none sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import threading
import time

from sqlalchemy import func, select

from attendant.booth import EntryRequest
from attendant.core.personal_data import site_data
from attendant.core.services import ParkingService
from attendant.core.vocab import SpotStatus
from attendant.demo import QueuedVehicle, TrafficReplayer
from attendant.tui.widgets.availability import AvailabilityTable
from attendant.tui.widgets.level_map import LevelMapView
from db.models import AuditEvent, ParkingSession, Payment, Spot, Vend
from tests.tui.support import SIZE, T0, code_of, console, plate_of, enter_by_keys, keys, pilot_test, rows, scan, settle, text_of, until

PS, PAY, SPOT, VEND, AUD = (t.__table__ for t in (ParkingSession, Payment, Spot, Vend, AuditEvent))
ACTOR = "console-test"


def build(engine, clock, **kwargs):
    return console(engine, clock, actor=ACTOR, **kwargs)





# ------------------------------------------------------------------ entry flow
@pilot_test
async def test_entry_by_keys_writes_the_session_and_shows_the_bay(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        level_map = app.screen.query_one(LevelMapView)
        table = app.screen.query_one(AvailabilityTable)
        before = sum(free for free, _cap in level_map.free_counts())

        await enter_by_keys(pilot, "ab12 cde", class_steps=1)  # car -> van

        (session,) = rows(engine, PS)
        assert (plate_of(session), session.vehicle_class, session.status) == ("AB12CDE", "van", "open")
        assert (session.entry_lane, session.entry_actor, session.entry_at) == ("E1", ACTOR, T0)
        (spot,) = rows(engine, SPOT, SPOT.c.id == session.spot_id)
        assert spot.status == "occupied"
        # the map shows the bay occupied and highlighted, the counts follow
        assert level_map.status_of(spot.id) is SpotStatus.OCCUPIED
        assert level_map.highlighted == spot.id
        assert sum(free for free, _cap in level_map.free_counts()) == before - 1
        line = level_map.line_text(level_map.bay_line(spot.id))
        x = level_map.bay_x(spot.id)
        assert line[x + 1] == "★"  # occupied, and the bay just issued: its own glyph, not only a colour
        level_id = next(lvl.level_id for lvl in level_map.levels if spot.label.startswith(lvl.code))
        index = next(i for i, lvl in enumerate(level_map.levels) if lvl.level_id == level_id)
        free, capacity = level_map.free_counts()[index]
        assert table.cell_text(level_id, "free").strip() == f"{free}/{capacity}"
        # the form shows the ticket, the bay, facility time and the printout is kept
        result = text_of(app, "#entry-result")
        assert f"Ticket {session.ticket_no:08d}" in result
        assert spot.label in result and "AB12CDE" in result and "Sat 21 Nov 09:30" in result
        assert "printed ✓" in result and "gate opened" in result
        title, printout = app.screen.last_printout
        assert "AB12CDE" in printout and spot.label in printout and code_of(session) in printout
        # ready for the next vehicle
        assert app.focused.id == "entry-plate" and app.focused.value == ""


@pilot_test
async def test_refused_entries_are_shown_and_write_nothing(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await enter_by_keys(pilot, "!!")  # not a plate
        assert rows(engine, PS) == []
        assert "Not issued" in text_of(app, "#entry-result")
        await pilot.press("escape")

        await enter_by_keys(pilot, "AB12CDE")
        await enter_by_keys(pilot, "AB12 CDE")  # the same plate again: anti-passback
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(PS)).scalar_one() == 1
            assert conn.execute(select(func.count()).select_from(SPOT).where(SPOT.c.status == "occupied")).scalar_one() == 1
        result = text_of(app, "#entry-result")
        assert "Not issued" in result and "anti-passback" in result
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "anti-passback" in errors[-1].message
        # the plate stays in the form for a correction
        assert app.screen.query_one("#entry-plate").value == "AB12 CDE"


# ------------------------------------------------------------------- exit flow
@pilot_test
async def test_exit_by_keys_with_cash_records_payment_and_frees_the_bay(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await enter_by_keys(pilot, "XY34ZZZ")
        (session,) = rows(engine, PS)
        clock.advance(hours=3, minutes=12)

        await pilot.press("f3", *keys(code_of(session)), "enter")  # a keyboard wedge: a burst ending in Enter
        await settle(pilot)
        quote = app.screen.query_one("#exit-form").checkout
        assert quote is not None and quote.session.session_id == session.id
        due = quote.fee.amount
        assert due > 0
        fee_text = text_of(app, "#exit-fee")
        assert "Total" in fee_text and f"£{due / 100:.2f}" in fee_text
        assert all(line.label[:20] in fee_text for line in quote.fee.lines)

        tendered = (due // 1000 + 1) * 1000  # the next £10 note above the fee
        await pilot.press("1", *str(tendered // 100))
        await pilot.pause()
        assert f"£{(tendered - due) / 100:.2f}" in text_of(app, "#exit-change")  # change shows live
        await pilot.press("enter")
        await settle(pilot)

        (payment,) = rows(engine, PAY)
        assert (payment.method, payment.status, payment.amount) == ("cash", "completed", due)
        assert (payment.tendered, payment.change, payment.lane, payment.actor) == (tendered, tendered - due, "X1", ACTOR)
        (closed,) = rows(engine, PS)
        assert (closed.status, closed.amount_paid, closed.exit_lane) == ("closed", due, "X1")
        assert closed.exit_at == clock.now
        (spot,) = rows(engine, SPOT, SPOT.c.id == session.spot_id)
        assert spot.status == "available"
        assert app.screen.query_one(LevelMapView).status_of(spot.id) is SpotStatus.AVAILABLE
        result = text_of(app, "#exit-result")
        assert "Paid" in result and f"change £{(tendered - due) / 100:.2f}" in result and "gate opened" in result
        assert app.screen.last_printout[0].startswith("Receipt")


@pilot_test
async def test_exit_by_typed_plate_or_ticket_number(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await enter_by_keys(pilot, "PL47 TYP")
        await enter_by_keys(pilot, "NU55 MBR")
        first, second = rows(engine, PS)
        clock.advance(hours=1, minutes=5)
        form = app.screen.query_one("#exit-form")

        await pilot.press("f3", *keys("pl47typ"), "enter")  # the plate, as an attendant would type it
        await settle(pilot)
        assert form.checkout is not None and form.checkout.session.session_id == first.id
        assert form.code == code_of(first)  # the field now holds the ticket's code: payment goes to that session
        assert "found by plate" in text_of(app, "#exit-session")
        await pilot.press("2", "enter")  # card
        await settle(pilot)
        assert rows(engine, PS, PS.c.id == first.id)[0].status == "closed"

        await pilot.press("f3", *str(second.ticket_no), "enter")  # the number printed under the barcode
        await settle(pilot)
        assert form.checkout is not None and form.checkout.session.session_id == second.id
        assert "found by ticket number" in text_of(app, "#exit-session")

        await pilot.press("f3", *keys("ZZ00ZZZ"), "enter")
        await settle(pilot)
        assert "no vehicle inside with plate" in text_of(app, "#exit-result")
        (payment,) = rows(engine, PAY)
        assert payment.session_id == first.id


@pilot_test
async def test_exit_refusals_card_payment_and_lost_ticket(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await enter_by_keys(pilot, "UND3RPAY")
        (session,) = rows(engine, PS)
        clock.advance(hours=5)

        # a forged code is refused
        await scan(pilot, "CHS-00000001-AAAAAAAAAAAAAAAA")
        assert "✗" in text_of(app, "#exit-result")
        assert app.screen.query_one("#exit-form").checkout is None

        # underpayment: refused before anything is sent, nothing changes
        await scan(pilot, code_of(session))
        await pilot.press("1", "1", "enter")  # £1 against a five-hour fee
        await settle(pilot)
        assert rows(engine, PAY) == []
        assert rows(engine, PS)[0].status == "open"
        assert "short by" in text_of(app, "#exit-result")
        assert "short by" in text_of(app, "#exit-change")

        # card instead (the amount field keeps focus after the refusal: down switches the method)
        assert app.focused.id == "exit-tendered"
        await pilot.press("down", "enter")
        await settle(pilot)
        (payment,) = rows(engine, PAY)
        assert (payment.method, payment.tendered, payment.change) == ("card", None, None)

        # the same ticket again: refused, no second payment
        await scan(pilot, code_of(session))
        assert "already exited" in text_of(app, "#exit-result")
        assert len(rows(engine, PAY)) == 1

        # lost ticket (issue 10): F6, the plate (confusions tolerated), Enter, the reason LOST_TICKET (Enter),
        # then the exit form at the plan's lost-ticket fee, paid to the gate
        await enter_by_keys(pilot, "LO57TKT")
        clock.advance(hours=2)
        await pilot.press("f6", *keys("l057 tkt"), "enter")
        assert app.screen.query_one("#exc-reasons").highlighted == 0  # LOST_TICKET
        await pilot.press("enter")
        await settle(pilot)
        found = text_of(app, "#exit-session")
        assert "LO57TKT" in found and "LOST TICKET (LOST_TICKET), found by plate" in found and "2 h 0 min" in found
        assert "Lost ticket (1 day × £18.90)" in text_of(app, "#exit-fee")
        assert app.focused.id == "exit-method"
        await pilot.press("enter")  # the method the form kept: card
        await settle(pilot)
        assert "✓ Paid £18.90" in text_of(app, "#exit-result")
        lost = rows(engine, PS, PS.c.id != session.id)[0]
        assert (lost.status, lost.amount_due, lost.amount_paid, lost.exit_lane) == ("closed", 1890, 1890, "X1")
        assert [(p.method, p.amount) for p in rows(engine, PAY, PAY.c.session_id == lost.id)] == [("card", 1890)]
        (event,) = rows(engine, AUD, AUD.c.action == "exception.lost_ticket")
        assert (event.actor, event.details["reason_code"], event.details["amount_cents"]) == (ACTOR, "LOST_TICKET",
                                                                                           1890)
        assert [(v.direction, v.source) for v in rows(engine, VEND, VEND.c.session_id == lost.id)] == [
            ("entry", "ticket"), ("exit", "payment")]
        # a plate with no vehicle inside: an unknown stay at the lost-ticket fee
        await pilot.press("f6", *keys("NOPE123"), "enter", "enter")
        await settle(pilot)
        assert "no vehicle found: unknown stay" in text_of(app, "#exit-session")
        assert "£18.90" in text_of(app, "#exit-fee")
        assert len(rows(engine, PAY)) == 2


# ------------------------------------------------------- queues and the scanner
@pilot_test
async def test_next_queued_vehicles_fill_the_forms(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        replayer = TrafficReplayer(app.booth, clock=clock)  # real queues; its thread is not started
        replayer.on_change = app._queues_changed
        app.replayer = replayer
        inside = app.booth.enter(EntryRequest("QU3UED", "car", lane="E2", print_ticket=False, vend=False),
                                 actor="replay")
        replayer.queues["E1"].append(QueuedVehicle("WA17 ING", "van"))
        replayer.queues["X1"].append(QueuedVehicle("QU3UED", "car", inside.entry.code, "card", None))
        app.screen.refresh_lanes()
        await settle(pilot)
        lanes = text_of(app, "#lanes")
        assert "WA17 ING van" in lanes and "QU3UED car" in lanes

        await pilot.press("f4")
        assert app.screen.query_one("#entry-plate").value == "WA17 ING"
        assert app.screen.query_one("#entry-class").value == "van"
        await pilot.press("enter")
        await settle(pilot)
        assert rows(engine, PS, PS.c.plate_hash == site_data().plate_index("WA17ING"))[0].vehicle_class == "van"

        clock.advance(minutes=50)
        await pilot.press("f5")
        await settle(pilot)
        form = app.screen.query_one("#exit-form")
        assert form.checkout is not None and form.checkout.session.plate == "QU3UED"
        assert form.method == "card"
        await pilot.press("enter")
        await settle(pilot)
        assert rows(engine, PS, PS.c.plate_hash == site_data().plate_index("QU3UED"))[0].status == "closed"
        assert "queue empty" in text_of(app, "#lanes")


# ---------------------------------------------------------- live map updates
@pilot_test
async def test_changes_from_another_thread_reach_the_map_in_batches(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        level_map = app.screen.query_one(LevelMapView)
        posted = []
        original = app.main_screen.post_message

        def counting(message):
            posted.append(type(message).__name__)
            return original(message)

        app.main_screen.post_message = counting

        def burst():
            for n in range(30):
                app.service.enter(f"TH{n:03d}AA", "car", actor="other-booth")

        thread = threading.Thread(target=burst)
        thread.start()
        thread.join()
        with engine.connect() as conn:
            occupied = {r.id for r in conn.execute(select(SPOT.c.id).where(SPOT.c.status == "occupied"))}
        assert len(occupied) == 30
        await until(pilot, lambda: all(level_map.status_of(s) is SpotStatus.OCCUPIED for s in occupied))
        # the listener coalesces: far fewer messages than bay changes
        batches = posted.count("SpotsChanged")
        assert 0 < batches < 30

        # another booth (its own service on the same database) admits a vehicle: the change watcher hears
        # the commit in the database's change log and repaints that bay, with no reload of the whole state
        app.start_change_watcher()
        await asyncio.sleep(0.3)  # the watcher has taken its place in the log
        other = ParkingService(engine, app.service.signer, facility_code="CHS", clock=clock)
        elsewhere = other.enter("OTH3R", "car", actor="booth-2")
        spot_id = level_map.spot_id_of(elsewhere.spot_label)
        began = time.monotonic()
        await until(pilot, lambda: level_map.status_of(spot_id) is SpotStatus.OCCUPIED)
        assert time.monotonic() - began < 10  # typically ~0.2 s on SQLite (data_version checked every 0.2 s)
        assert app.service.spot_statuses()[spot_id] is SpotStatus.OCCUPIED  # the console's bay index too


@pilot_test
async def test_another_booths_lanes_show_live_and_ours_go_out_to_the_others(engine, clock):
    """Lane queues, gates and devices of every booth, on every console (issue 8 item 3): another booth's
    lane appears within a second of its write, without plates; this console's lanes are published for
    the others; a booth that closes takes its lanes off the other consoles."""
    from attendant.core.lane_status import LaneReport, LanePublisher, other_lanes

    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.start_change_watcher()
        await asyncio.sleep(0.3)  # the watcher has taken its place in the log
        office = LanePublisher(engine, app.service.facility.id, "office-B")
        office.publish([LaneReport("office-B", "X7", "exit", "fault", "limit switch: no confirmation",
                                   {"printer": ("ok", ""), "scanner": ("offline", "no link")}, ("car", "van"), 1)])
        began = time.monotonic()
        await until(pilot, lambda: "@office-B" in text_of(app, "#lanes"))
        assert time.monotonic() - began < 10  # typically ~0.2 s on SQLite
        text = text_of(app, "#lanes")
        for shown in ("X7", "limit switch: no confirmation", "scanner", "queue 2", "car · van", "1 to reprint",
                      "(booth office-B)"):
            assert shown in text, (shown, text)

        # this console's lanes go out to the others (the clock tick publishes them when they change)
        screen = app.main_screen
        screen.publish_lanes(screen.query_one("#lanes").lanes)
        mine = app.booth_name
        await until(pilot, lambda: {r.lane for r in other_lanes(engine, app.service.facility.id, "office-B")
                                    if r.booth == mine} == {lane.code for lane in app.booth.config.lanes})
        assert screen.query_one("#lanes").lanes[-1].booth == "office-B"  # our own rows are not shown twice

        office.withdraw()  # that booth closes: its lanes leave this console
        await until(pilot, lambda: "@office-B" not in text_of(app, "#lanes"))


# --------------------------------------------------- palette, themes, quitting
@pilot_test
async def test_palette_levels_and_themes(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [title for title, _help, _cb in app.console_commands()]
        for wanted in ("Entry: issue a ticket", "Exit: take payment", "Take next vehicle at entry",
                       "Take next vehicle at exit", "Cycle theme", "Quit", "Go to level L3 Level 3"):
            assert wanted in titles
        await pilot.press("ctrl+p", *keys("take pay"))
        await until(pilot, lambda: "Exit: take payment" in str(app.screen.query_one("CommandList").get_option_at_index(0).prompt))
        await pilot.press("enter")
        await settle(pilot)
        assert app.focused is not None and app.focused.id == "exit-code"

        # levels: F7 anywhere, digits and [ ] on the map
        level_map = app.screen.query_one(LevelMapView)
        await pilot.press("f7")
        await pilot.pause()
        assert level_map.current_level == 1
        level_map.focus()
        await pilot.press("5")  # the last level, too, comes to the top of the view
        await pilot.pause()
        assert "L5 Level 5 (roof)" in level_map.line_text(round(level_map.scroll_offset.y))
        await pilot.press("3")
        await pilot.pause()
        assert level_map.current_level == 3 and "L3" in str(level_map.border_title)
        assert "L3 Level 3" in level_map.line_text(round(level_map.scroll_offset.y))
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert level_map.current_level == 2

        # themes: F9 cycles dark -> light -> high-contrast -> dark, and the map follows
        dark = level_map.get_component_rich_style("levelmap--free")
        await pilot.press("f9")
        await settle(pilot)
        assert app.theme == "light"
        assert level_map.get_component_rich_style("levelmap--free").color != dark.color
        await pilot.press("f9")
        assert app.theme == "high-contrast"
        await pilot.press("f9")
        assert app.theme == "dark"


@pilot_test
async def test_ctrl_q_quits_cleanly_and_stops_the_devices(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        scanner = app.booth.devices(app.exit_lane).scanner
        assert scanner.running
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0
    assert not scanner.running
    assert app.service.listeners == []


@pilot_test
async def test_scans_reach_the_exit_form_whatever_has_focus(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await enter_by_keys(pilot, "FIRST1")
        await enter_by_keys(pilot, "NEXT22")
        first, second = rows(engine, PS)
        clock.advance(hours=1)
        # the exit lane's stand-in scanner (its own thread), fed from the F8 dialog
        await pilot.press("f8")
        await pilot.pause()
        assert [code for code, _label in app.open_tickets()] == [code_of(second), code_of(first)]
        await pilot.press("down", "enter")  # the older ticket
        scanner = app.booth.devices(app.exit_lane).scanner
        assert scanner.wait_idle(2.0)
        await until(pilot, lambda: app.screen.query_one("#exit-form").checkout is not None)
        await settle(pilot)
        assert app.screen.query_one("#exit-form").checkout.session.session_id == first.id
        assert app.focused.id == "exit-method"
        # the next driver's ticket is scanned while the payment row has focus
        await pilot.press(*keys(code_of(second)), "enter")
        await settle(pilot)
        form = app.screen.query_one("#exit-form")
        assert form.checkout is not None and form.checkout.session.session_id == second.id
        await pilot.press("1")
        assert app.focused.id == "exit-tendered"
        await pilot.press(*keys("CHS-"))  # a letter in the amount field starts a code, too
        await pilot.pause()
        assert app.focused.id == "exit-code" and app.focused.value == "CHS-"
        assert rows(engine, PAY) == []
