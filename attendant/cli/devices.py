"""``attendant devices``: list, test and watch the lanes' devices.

Commands read the console config through the CLI context (the
``--config`` option, the installed ``console.toml`` or the default lanes) and
open the devices with :func:`hardware.config.open_lane_devices`; nothing
touches the database.

- ``devices list [--json] [--wait S]``: every lane and its devices with URL
  and health (devices get up to ``--wait`` seconds to connect first).
- ``devices test NAME [--timeout S]``: NAME is ``LANE.printer``,
  ``LANE.gate``, ``LANE.scanner``, ``LANE.camera``, ``LANE.display`` or a lane code (all its
  devices). Prints a test page, pulses the gate (vend source ``attendant``,
  reason "device test"), puts a test screen on the customer display and
  waits for one scan or plate read. One outcome
  line per device; on any failure one line on stderr and exit status 2.
- ``devices read-plate IMAGE... [--region R] [--json]``: the local plate
  reader on image files, best read first (``--region``: plate syntaxes of
  ``hardware/plate_regions``, e.g. ``us``, ``us-ca``, ``eu-de``, ``gb``).
- ``devices test`` and ``devices watch`` take ``--region R`` too: it is set
  on every OpenCV camera URL (``?region=R``) for that run.
- ``devices watch [--seconds N]``: live events (codes, rejected frames,
  plate reads, gate changes, health changes), one line each, prefixed with a
  UTC timestamp, until ctrl+c or N seconds.

Errors (a bad config, an unknown device name) print one line on stderr and
exit with status 2, without a traceback. Driver log lines (vends, rejected
frames, reconnects) go to ``attendant-devices.log`` in the data folder, not
to the terminal, unless logging is already configured.
"""


import json
import logging
import queue
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Optional

import typer

from attendant.cli.common import fail, state, typer_app
from attendant.core.clock import utc_now
from attendant.core.errors import AttendantError

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

__all__ = ["devices_app", "utc_stamp"]

devices_app = typer_app(help="Lane devices: printers, gates, scanners, cameras.", no_args_is_help=True)
commands.add_typer(devices_app, name="devices")

KINDS = ("printer", "gate", "scanner", "camera", "display")


def utc_stamp(moment: datetime | None = None) -> str:
    """``2026-11-21T09:30:00.123Z``: a UTC timestamp with milliseconds."""
    moment = (moment or utc_now()).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@contextmanager
def _device_log() -> Iterator[None]:
    """Send log records to the data folder's ``attendant-devices.log`` for the
    command's duration (INFO and up: vends, rejected frames, reconnects), so
    Python's last-resort handler never prints them on stderr. Leaves logging
    alone when the root logger already has handlers (tests, the console)."""
    root = logging.getLogger()
    if root.handlers:
        yield
        return
    handler: logging.Handler
    try:
        from attendant.paths import data_dir

        handler = logging.FileHandler(data_dir() / "attendant-devices.log", encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def _config(ctx: typer.Context):
    try:
        return state(ctx).console_config()
    except AttendantError as exc:
        fail(str(exc))


REGION_HELP = "Plate region for cameras read locally (us, us-ca, eu, eu-de, gb, br; hardware/plate_regions)."


def _open_all(lanes: Iterable[Any], *, short_sim_hold: bool = False, region: str | None = None) -> list[Any]:
    """Open every lane's devices; ``short_sim_hold`` gives simulated gates
    without an explicit ``hold`` a 0.5 s hold, so a test cycle is quick;
    ``region`` is set on OpenCV camera URLs."""
    from hardware.camera_opencv import with_region
    from hardware.config import open_lane_devices
    from hardware.gates import SIM_SCHEMES, parse_gate_url

    opened = []
    for lane in lanes:
        if region is not None and lane.camera is not None:
            try:
                lane = replace(lane, camera=with_region(lane.camera, region))
            except AttendantError as exc:
                fail(str(exc))
        hold = None
        if short_sim_hold and lane.gate is not None:
            address = parse_gate_url(lane.gate)
            if address.scheme in SIM_SCHEMES and address.hold_seconds is None:
                hold = 0.5
        opened.append(open_lane_devices(lane, gate_hold_seconds=hold))
    return opened


def _close_all(opened: Iterable[Any]) -> None:
    for devices in opened:
        devices.close()


def _settle(opened: list[Any], seconds: float) -> None:
    """Wait up to ``seconds`` while gates, scanners and cameras are still connecting."""
    from hardware.base import DeviceState

    deadline = time.monotonic() + max(0.0, seconds)
    while time.monotonic() < deadline:
        pending = [
            kind for devices in opened for kind, status in devices.status().items()
            if kind not in ("printer", "display") and status.state == DeviceState.UNKNOWN  # written only when told
        ]
        if not pending:
            return
        time.sleep(0.05)


# --------------------------------------------------------------------------- list


@devices_app.command("list")
def list_devices(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to let devices connect before reading their health.",
                                        min=0, max=600)] = 2.0,
) -> None:
    """Every lane and its devices, with URL and health."""
    with _device_log():
        _list(ctx, json_, wait)


def _list(ctx: typer.Context, json_: bool, wait: float) -> None:
    config = _config(ctx)
    opened = _open_all(config.lanes)
    try:
        for devices in opened:  # readers connect only once started; their input is discarded here
            devices.start(on_code=lambda code: None, on_read=lambda read: None)
        _settle(opened, wait)
        lanes = []
        for devices in opened:
            lane = devices.lane
            health = devices.status()
            lanes.append({
                "code": lane.code,
                "name": lane.name,
                "direction": str(lane.direction),
                "devices": [
                    {
                        "name": devices.device_name(kind),
                        "kind": kind,
                        "url": getattr(lane, kind),
                        "state": str(health[kind].state),
                        "message": health[kind].message,
                    }
                    for kind in KINDS if getattr(lane, kind) is not None
                ],
            })
    finally:
        _close_all(opened)
    if json_:
        typer.echo(json.dumps({"config": config.source, "lanes": lanes}, indent=2, ensure_ascii=False))
        return
    typer.echo(f"Devices of {config.source}")
    for lane in lanes:
        typer.echo(f"{lane['code']:<8} {lane['direction']:<6} {lane['name']}")
        if not lane["devices"]:
            typer.echo("  (no devices)")
        for device in lane["devices"]:
            typer.echo(f"  {device['kind']:<8} {device['state']:<10} {device['url']}"
                       + (f"  - {device['message']}" if device["message"] else ""))


# --------------------------------------------------------------------------- test


def _resolve(config: Any, name: str) -> tuple[Any, tuple[str, ...]]:
    code, _, kind = name.strip().partition(".")
    try:
        lane = config.lane(code.upper())
    except AttendantError as exc:
        fail(str(exc))
    if kind:
        kind = kind.lower()
        if kind not in KINDS:
            fail(f"unknown device {name!r}; use LANE.printer, LANE.gate, LANE.scanner, LANE.camera, LANE.display or LANE")
        if getattr(lane, kind) is None:
            fail(f"lane {lane.code} has no {kind} in {config.source}")
        return lane, (kind,)
    kinds = tuple(k for k in KINDS if getattr(lane, k) is not None)
    if not kinds:
        fail(f"lane {lane.code} has no devices in {config.source}")
    return lane, kinds


def _test_printer(devices: Any, timeout: float) -> tuple[bool, str]:
    from hardware.base import DeviceError

    name = devices.device_name("printer")
    lines = ["attendant console", "device test", f"{name}  {devices.lane.name}", f"{utc_stamp()} UTC",
             "If you can read this, the printer works."]
    try:
        devices.printer.print_text(lines)
    except DeviceError as exc:
        return False, str(exc)
    return True, "printed a test page"


def _test_display(devices: Any, timeout: float) -> tuple[bool, str]:
    """A test screen on the customer display: ok once it took it (its status), else the driver's reason."""
    from hardware.base import DeviceState
    from hardware.displays import Screen

    display = devices.display
    display.show(Screen.of("Display test", devices.lane.code, utc_stamp()[11:19] + " UTC", "£1.00"))
    if not display.wait_idle(timeout):
        return False, f"no answer within {timeout:g} s"
    status = display.status()
    if status.state != DeviceState.OK:
        return False, status.message
    return True, status.message


def _test_gate(devices: Any, timeout: float) -> tuple[bool, str]:
    from hardware.base import DeviceError, GateState

    gate = devices.gate
    events: queue.Queue[Any] = queue.Queue()
    gate.add_listener(events.put)
    try:
        began = time.monotonic()
        try:
            gate.vend("attendant", "device test")
        except DeviceError as exc:
            return False, str(exc)
        wants_confirmation = bool(getattr(gate, "has_limit_switch", False))
        opened_confirmed = False
        deadline = began + timeout
        while True:
            try:
                event = events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False, f"the gate did not complete its cycle within {timeout:g} s (state {gate.state})"
            phase = str(getattr(event, "phase", "commanded"))
            if event.state == GateState.FAULT:
                return False, event.reason or "gate fault"
            if event.state == GateState.OPEN and phase == "confirmed":
                opened_confirmed = True
            if event.state == GateState.CLOSED and (phase == "confirmed" or not wants_confirmation):
                took = time.monotonic() - began
                detail = "confirmed by the limit switch" if opened_confirmed else "commanded (no limit switch)"
                return True, f"pulsed: open -> closed in {took:.2f} s, {detail}"
    finally:
        gate.remove_listener(events.put)


def _wait_for_input(devices: Any, kind: str, timeout: float) -> tuple[bool, str]:
    from hardware.standins import StandinPlateCamera, StandinScanner

    device = getattr(devices, kind)
    if isinstance(device, (StandinScanner, StandinPlateCamera)):  # nobody can present anything to a stand-in
        return True, f"stand-in {kind}: nothing to read"
    got: queue.Queue[Any] = queue.Queue()
    try:
        device.start(got.put)
    except AttendantError as exc:
        return False, str(exc)
    what = "scan a code" if kind == "scanner" else "drive a plate past the camera"
    typer.echo(f"{devices.device_name(kind)}: {what} within {timeout:g} s ...")
    try:
        item = got.get(timeout=timeout)
    except queue.Empty:
        status = device.status()
        return False, f"nothing read within {timeout:g} s ({status.state}: {status.message})"
    finally:
        device.stop()
    if kind == "scanner":
        return True, f"read {item!r}"
    return True, f"read plate {item.plate!r} (confidence {item.confidence:.2f})"


@devices_app.command("test")
def test_device(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="LANE.printer, LANE.gate, LANE.scanner, LANE.camera, or LANE.")],
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a gate cycle, a scan or a plate.",
                                           min=0, max=3600)] = 10.0,
    region: Annotated[Optional[str], typer.Option(help=REGION_HELP)] = None,
) -> None:
    """Test one device (or all of a lane's): print, pulse, read a scan or a plate."""
    if not timeout > 0:
        fail("--timeout must be more than 0 seconds")
    _check_region(region)
    with _device_log():
        _test(ctx, name, timeout, region)


def _check_region(region: str | None) -> None:
    if region is None:
        return
    from hardware.plate_regions import load_region

    try:
        load_region(region)
    except AttendantError as exc:
        fail(str(exc))


def _test(ctx: typer.Context, name: str, timeout: float, region: str | None = None) -> None:
    config = _config(ctx)
    lane, kinds = _resolve(config, name)
    gate_test = None
    if "gate" in kinds:  # the barrier will move: a supervisor's action, recorded as a vend before it moves
        cli = state(ctx)
        service = cli.service()
        gate_test = (service, service.record_gate_test(lane=lane.code, direction=lane.direction.value,
                                                       actor=cli.login()))
    # Open only the devices under test: testing a printer must not touch the gate.
    opened = _open_all([replace(lane, **{k: None for k in KINDS if k not in kinds})], short_sim_hold=True,
                       region=region)
    devices = opened[0]
    failures: list[str] = []
    try:
        for kind in kinds:
            device_name = devices.device_name(kind)
            if kind in devices.faults:
                ok, detail = False, devices.faults[kind].message
            elif kind == "printer":
                ok, detail = _test_printer(devices, timeout)
            elif kind == "display":
                ok, detail = _test_display(devices, timeout)
            elif kind == "gate":
                ok, detail = _test_gate(devices, timeout)
                if not ok and gate_test is not None:
                    gate_test[0].record_vend_fault(gate_test[1], detail)
            else:
                ok, detail = _wait_for_input(devices, kind, timeout)
            typer.echo(f"{device_name}: {'ok' if ok else 'FAILED'}: {detail}")
            if not ok:
                failures.append(f"{device_name} ({detail})")
    finally:
        _close_all(opened)
    if failures:
        fail("device test failed: " + "; ".join(failures))


# --------------------------------------------------------------------------- read-plate


@devices_app.command("read-plate")
def read_plate(
    images: Annotated[list[str], typer.Argument(help="Image files (.jpg, .png ...).")],
    region: Annotated[Optional[str], typer.Option(help=REGION_HELP)] = None,
    json_: Annotated[bool, typer.Option("--json", help="One JSON object per image.")] = False,
) -> None:
    """Read the plates in image files with the local plate reader, best read first."""
    from pathlib import Path

    _check_region(region)
    try:
        import cv2

        from hardware.plate_reader import PlateReader
    except ImportError as exc:
        fail(f"plate reader not installed: {exc}")
    reader = PlateReader(region=region)
    for name in images:
        path = Path(name)
        image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
        if image is None:
            fail(f"{name}: not a readable image file")
        try:
            found = reader.read(image)
        except AttendantError as exc:
            fail(str(exc))
        if json_:
            typer.echo(json.dumps({"image": name, "region": region, "reads": [
                {"plate": c.text, "confidence": c.confidence, "box": list(c.box)} for c in found]}))
        elif not found:
            typer.echo(f"{name}: no plate")
        else:
            others = ", ".join(f"{c.text} {c.confidence:.2f}" for c in found[1:4])
            typer.echo(f"{name}: {found[0].text} {found[0].confidence:.2f}" + (f" (also {others})" if others else ""))


# --------------------------------------------------------------------------- watch


@devices_app.command("watch")
def watch_devices(
    ctx: typer.Context,
    seconds: Annotated[Optional[float], typer.Option(help="Stop after this many seconds (default: ctrl+c).",
                                                    min=0, max=31_622_400)] = None,
    region: Annotated[Optional[str], typer.Option(help=REGION_HELP)] = None,
) -> None:
    """Print live device events from every lane until ctrl+c (or --seconds)."""
    if seconds is not None and not seconds > 0:
        fail("--seconds must be more than 0")
    _check_region(region)
    with _device_log():
        _watch(ctx, seconds, region)


def _watch(ctx: typer.Context, seconds: float | None, region: str | None = None) -> None:
    config = _config(ctx)
    events: queue.Queue[tuple[str, str, str]] = queue.Queue()

    def emit(lane: str, kind: str, text: str) -> None:
        typer.echo(f"{utc_stamp()} {lane:<8} {kind:<8} {text}")

    opened = _open_all(config.lanes, region=region)
    try:
        for devices in opened:
            code = devices.lane.code
            if devices.scanner is not None and hasattr(devices.scanner, "on_reject"):
                devices.scanner.on_reject = (
                    lambda reason, raw, code=code: events.put((code, "scanner", f"rejected ({reason}): {raw!r}"))
                )
            devices.start(
                on_code=lambda text, code=code: events.put((code, "scanner", f"code {text!r}")),
                on_read=lambda read, code=code: events.put(
                    (code, "camera", f"plate {read.plate!r} confidence {read.confidence:.2f}")),
                on_gate=lambda event, code=code: events.put((code, "gate", _gate_text(event))),
            )
        health: dict[tuple[str, str], tuple[str, str]] = {}
        deadline = None if seconds is None else time.monotonic() + seconds
        next_retry = time.monotonic() + 5.0
        emit("-", "watch", f"watching {len(opened)} lane(s) of {config.source}; ctrl+c to stop")
        try:
            while deadline is None or time.monotonic() < deadline:
                for devices in opened:
                    for kind, status in devices.status().items():
                        key = (devices.lane.code, kind)
                        value = (str(status.state), status.message)
                        if health.get(key) != value:
                            health[key] = value
                            emit(key[0], kind, f"status {value[0]}" + (f": {value[1]}" if value[1] else ""))
                if time.monotonic() >= next_retry:
                    next_retry = time.monotonic() + 5.0
                    for devices in opened:
                        for kind in devices.retry():
                            emit(devices.lane.code, kind, "reopened")
                wait = 0.25 if deadline is None else max(0.0, min(0.25, deadline - time.monotonic()))
                try:
                    lane, kind, text = events.get(timeout=wait)
                except queue.Empty:
                    continue
                emit(lane, kind, text)
                while True:
                    try:
                        emit(*events.get_nowait())
                    except queue.Empty:
                        break
        except KeyboardInterrupt:
            pass
    finally:
        _close_all(opened)
    while not events.empty():
        emit(*events.get_nowait())


def _gate_text(event: Any) -> str:
    phase = getattr(event, "phase", None)
    text = f"{event.state}" + (f" ({phase})" if phase else "") + f" source={event.source}"
    return text + (f" reason={event.reason!r}" if event.reason else "")
