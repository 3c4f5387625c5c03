"""Lane and device configuration: a small TOML file, validated strictly.

Format (``examples/console.toml`` is the demo's)::

    [console]
    theme = "dark"            # optional
    [[lanes]]
    code = "E1"               # unique, A-Z and 0-9, 1 to 8 characters
    name = "Entry 1"
    direction = "entry"       # entry | exit
    printer = "tcp://192.168.1.50:9100"   # each device is optional: a URL of
    gate = "sim://"                        # one of its kind's schemes (the table
    scanner = "standin://"                 # in hardware.devices lists them all)
    camera = "standin://"
    display = "serial:///dev/ttyUSB1?baudrate=9600"   # exit lanes only: the customer pole display
    confirm_below = 0.9       # optional: camera reads under this confidence (0..1) are confirmed
    [[signs]]                 # count signs (optional; hardware.signs has the URLs)
    name = "L0"               # unique: letters, digits, - _ . (1 to 16)
    scope = "level:L0"        # facility | level:CODE | zone:LEVEL-ZONE | parts joined by +
    url = "modbus+tcp://192.168.1.80:502?unit=1&register=100"
    types = ["ev"]            # optional: count only these spot types
    facility = "CHS"          # optional: another facility of the database

Parsing uses the standard library's ``tomllib``. Every problem raises
:class:`InputError` whose message names the file and the field, e.g.
``console.toml: lanes[1].direction (lane E2): must be entry or exit, got 'in'``;
unknown keys are refused so a typo never silently drops a device.

Devices go through the one scheme registry (:data:`hardware.devices.KINDS`):
URLs are checked here (syntax only, no I/O) and opened by
:func:`open_lane_devices`, which never raises: a device that cannot be opened
is recorded as faulted and :meth:`LaneDevices.retry` opens it again later.
"""

from __future__ import annotations

import logging
import re
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attendant.core.errors import InputError, NotFound
from attendant.core.vocab import LaneDirection
from hardware.base import (
    DeviceError,
    DeviceState,
    DeviceStatus,
    Gate,
    GateListener,
    PlateCamera,
    PlateRead,
    Scanner,
    TicketPrinter,
)
from hardware.devices import DEVICE_KINDS, KINDS
from hardware.displays import CustomerDisplay
from hardware.printers import DEFAULT_TIMEOUT
from hardware.signs import SIGN
from hardware.urls import redact

__all__ = [
    "DEVICE_KINDS",
    "ConsoleConfig",
    "LaneConfig",
    "LaneDevices",
    "SignConfig",
    "default_config",
    "load_config",
    "open_lane_devices",
    "parse_config",
]

if TYPE_CHECKING:
    from attendant.core.sign_scope import SignScope

log = logging.getLogger(__name__)

_CONSOLE_KEYS = ("theme", "retention_days", "backup_every_minutes", "backup_dir", "backup_keep")
DEFAULT_RETENTION_DAYS = 90
_LANE_KEYS = ("code", "name", "direction", *DEVICE_KINDS, "confirm_below")
_LANE_CODE = re.compile(r"[A-Z0-9]{1,8}")
_MAX_NAME = 60


@dataclass(frozen=True)
class LaneConfig:
    """One lane: ``code`` (unique, A-Z0-9), display ``name``, ``direction``, the URL of each device
    it has (None when it has none) and ``confirm_below``: the confidence (0..1) under which the
    attendant confirms this lane's camera reads (None: the console's
    :data:`attendant.core.plate_match.DEFAULT_CONFIRM_THRESHOLD`; an operator whose camera's
    confidence is calibrated otherwise, an ANPR box's own say, sets it per lane)."""

    code: str
    name: str
    direction: LaneDirection
    printer: str | None = None
    gate: str | None = None
    scanner: str | None = None
    camera: str | None = None
    display: str | None = None  # the customer display (exit lanes only; hardware.displays)
    confirm_below: float | None = None


@dataclass(frozen=True)
class SignConfig:
    """One count sign: ``name`` (unique), ``scope`` (:class:`attendant.core.signs.SignScope`), its ``url``
    (a :data:`hardware.signs.SIGN` URL) and ``facility`` (a facility code; None: the console's)."""

    name: str
    scope: SignScope
    url: str
    facility: str | None = None


@dataclass(frozen=True)
class ConsoleConfig:
    """The whole file: ``lanes`` in file order, optional ``theme``, and
    ``source`` (the file it came from, for messages)."""

    lanes: tuple[LaneConfig, ...]
    theme: str | None = None
    source: str = "<default>"
    # [offline] card_count / card_total_cents: card payments a booth may store and forward while the database
    # is away (attendant.booth.offline.OfflineLimits); 0 refuses cards offline.
    offline_card_count: int = 10
    offline_card_total: int = 10_000
    #: ``[console] retention_days``: plates of sessions closed longer ago are erased (``attendant retention run``).
    retention_days: int = DEFAULT_RETENTION_DAYS
    # scheduled backups (attendant/core/backup.py): every N minutes into backup_dir, keeping the newest backup_keep
    backup_every_minutes: int | None = None
    backup_dir: str | None = None
    backup_keep: int = 7
    #: ``[[signs]]``: the count signs, in file order (:mod:`attendant.booth.signs` drives them).
    signs: tuple[SignConfig, ...] = ()

    def sign(self, name: str) -> SignConfig:
        """The sign called ``name`` (any case). :raises NotFound: no such sign."""
        for sign in self.signs:
            if sign.name.lower() == name.strip().lower():
                return sign
        known = ", ".join(s.name for s in self.signs) or "none configured"
        raise NotFound(f"no sign {name!r} in {self.source}; signs are {known}")

    #: ``[exceptions] reasons = {CODE = "meaning"}``: the booth's reason codes for exceptions (lost ticket, manual
    #: vend, free exit, back-dating...); None: attendant.core.exceptions.DEFAULT_REASON_CODES.
    reason_codes: dict[str, str] | None = None

    def lane(self, code: str) -> LaneConfig:
        """The lane with ``code``. :raises NotFound: no such lane."""
        for lane in self.lanes:
            if lane.code == code:
                return lane
        raise NotFound(f"no lane {code!r} in {self.source}; lanes are {', '.join(l.code for l in self.lanes)}")

    @property
    def entry_lanes(self) -> tuple[LaneConfig, ...]:
        """Entry lanes in file order."""
        return tuple(lane for lane in self.lanes if lane.direction == LaneDirection.ENTRY)

    @property
    def exit_lanes(self) -> tuple[LaneConfig, ...]:
        """Exit lanes in file order."""
        return tuple(lane for lane in self.lanes if lane.direction == LaneDirection.EXIT)


def load_config(path: str | Path) -> ConsoleConfig:
    """Read and validate the config file at ``path`` (UTF-8 TOML).

    :raises InputError: the file cannot be read, is not TOML, or a field is
        wrong; the message names the file and the field.
    """
    from attendant.core.files import read_text

    path = Path(path)
    text = read_text(path, "config file")  # at most 1 MiB, UTF-8 (issue 9 item 8)
    return parse_config(text, str(path))


def parse_config(text: str, source: str = "<config>") -> ConsoleConfig:
    """Validate config ``text``; ``source`` names it in messages.

    :raises InputError: see :func:`load_config`.
    """
    from attendant.core.files import loads_toml

    try:
        data = loads_toml(text, source)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: not valid TOML: {exc}") from None
    _no_unknown_keys(data, ("console", "lanes", "offline", "signs", "exceptions"), source, "")
    reasons = _reason_codes(data.get("exceptions", {}), source)
    offline = data.get("offline", {})
    if not isinstance(offline, dict):
        raise InputError(f"{source}: offline: must be an [offline] table")
    _no_unknown_keys(offline, ("card_count", "card_total_cents"), source, "offline.")
    limits = {}
    for key, field_name in (("card_count", "offline_card_count"), ("card_total_cents", "offline_card_total")):
        if key in offline:
            value = offline[key]
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100_000_000:
                raise InputError(f"{source}: offline.{key}: must be a whole number from 0 to 100000000, got {value!r}")
            limits[field_name] = value

    theme: str | None = None
    console = data.get("console", {})
    if not isinstance(console, dict):
        raise InputError(f"{source}: console: must be a [console] table")
    _no_unknown_keys(console, _CONSOLE_KEYS, source, "console.")
    if "theme" in console:
        theme = console["theme"]
        if not isinstance(theme, str) or not theme.strip():
            raise InputError(f"{source}: console.theme: must be a theme name, got {theme!r}")
        theme = theme.strip()
    retention_days = console.get("retention_days", DEFAULT_RETENTION_DAYS)
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or not 1 <= retention_days <= 36600:
        raise InputError(f"{source}: console.retention_days: must be a whole number of days, 1 to 36600, "
                         f"got {retention_days!r}")
    backups = _backup_settings(console, source)

    lanes_data = data.get("lanes")
    if lanes_data is None:
        raise InputError(f"{source}: lanes: no lanes; add at least one [[lanes]] table")
    if not isinstance(lanes_data, list) or not all(isinstance(item, dict) for item in lanes_data):
        raise InputError(f"{source}: lanes: must be [[lanes]] tables")
    if not lanes_data:
        raise InputError(f"{source}: lanes: no lanes; add at least one [[lanes]] table")

    lanes: list[LaneConfig] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(lanes_data):
        lane = _parse_lane(item, index, source)
        if lane.code in seen:
            raise InputError(
                f"{source}: lanes[{index}].code: lane code {lane.code!r} is already used by lanes[{seen[lane.code]}]"
            )
        seen[lane.code] = index
        lanes.append(lane)
    return ConsoleConfig(lanes=tuple(lanes), theme=theme, source=source, retention_days=retention_days,
                         signs=_parse_signs(data.get("signs", []), source), reason_codes=reasons, **backups,
                         **limits)


_SIGN_KEYS = ("name", "scope", "url", "types", "facility")
_SIGN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}")
_FACILITY_CODE = re.compile(r"[A-Z0-9]{2,8}")


def _parse_signs(items: Any, source: str) -> tuple[SignConfig, ...]:
    """``[[signs]]`` tables (see the module docstring); every problem names the table and the key."""
    # pure parsing, loaded only by configs with signs (hardware imports no services: test_hardware_gate_config)
    from attendant.core.sign_scope import parse_scope

    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InputError(f"{source}: signs: must be [[signs]] tables")
    signs: list[SignConfig] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        where = f"{source}: signs[{index}]"
        name = item.get("name")
        if not isinstance(name, str) or not _SIGN_NAME.fullmatch(name.strip()):
            raise InputError(f"{where}.name: must be 1 to 16 letters, digits, '-', '_' or '.' (e.g. \"L0\"), "
                             f"got {name!r}")
        name = name.strip()
        where = f"{where} (sign {name})"
        for key in item:
            if key not in _SIGN_KEYS:
                raise InputError(f"{where}.{key}: unknown key; expected one of {', '.join(_SIGN_KEYS)}")
        if name.lower() in seen:
            raise InputError(f"{where}.name: sign name {name!r} is already used by signs[{seen[name.lower()]}]")
        seen[name.lower()] = index
        for key in ("scope", "url"):
            if key not in item:
                raise InputError(f"{where}.{key}: missing; e.g. scope = \"level:L0\", url = \"standin://\"")
        try:
            scope = parse_scope(item["scope"], item.get("types"))
        except InputError as exc:
            raise InputError(f"{where}.{'types' if 'spot type' in str(exc) else 'scope'}: {exc}") from None
        url = item["url"]
        if not isinstance(url, str) or not url.strip():
            raise InputError(f"{where}.url: must be a sign URL such as \"standin://\", got {url!r}")
        url = url.strip()
        try:
            SIGN.parse(url)
        except InputError as exc:
            raise InputError(f"{where}.url: {exc}") from None
        facility = item.get("facility")
        if facility is not None:
            if not isinstance(facility, str) or not _FACILITY_CODE.fullmatch(facility.strip().upper()):
                raise InputError(f"{where}.facility: must be a facility code (2 to 8 of A-Z, 0-9), got {facility!r}")
            facility = facility.strip().upper()
        signs.append(SignConfig(name=name, scope=scope, url=url, facility=facility))
    return tuple(signs)



def _reason_codes(table: Any, source: str) -> dict[str, str] | None:
    """``[exceptions] reasons = {CODE = "meaning", ...}``: codes of A-Z, 0-9 and _ (upper-cased), each with
    what it means (shown in the console's pickers); ``OTHER`` always needs free text. None when absent."""
    import re

    if not isinstance(table, dict):
        raise InputError(f"{source}: exceptions: must be an [exceptions] table")
    _no_unknown_keys(table, ("reasons",), source, "exceptions.")
    if "reasons" not in table:
        return None
    raw = table["reasons"]
    if not isinstance(raw, dict) or not raw:
        raise InputError(f'{source}: exceptions.reasons: must be a table of CODE = "meaning", at least one')
    codes: dict[str, str] = {}
    for code, meaning in raw.items():
        norm = str(code).strip().upper().replace("-", "_")
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,31}", norm):
            raise InputError(f"{source}: exceptions.reasons.{code}: a code is a letter then letters, digits or _ "
                             "(at most 32)")
        if not isinstance(meaning, str) or not meaning.strip() or len(meaning) > 120:
            raise InputError(f"{source}: exceptions.reasons.{code}: the meaning is text of 1 to 120 characters")
        if norm in codes:
            raise InputError(f"{source}: exceptions.reasons.{code}: code {norm} is given twice")
        codes[norm] = meaning.strip()
    return codes


def _backup_settings(console: dict[str, Any], source: str) -> dict[str, Any]:
    """``[console]`` backup keys: ``backup_every_minutes`` (1 to 10080) needs ``backup_dir``; ``backup_keep``
    (1 to 1000, default 7)."""
    out: dict[str, Any] = {}
    every = console.get("backup_every_minutes")
    if every is not None:
        if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= 10080:
            raise InputError(f"{source}: console.backup_every_minutes: must be a whole number of minutes from 1 "
                             f"to 10080 (a week), got {every!r}")
        out["backup_every_minutes"] = every
    folder = console.get("backup_dir")
    if folder is not None:
        if not isinstance(folder, str) or not folder.strip() or len(folder) > 1000:
            raise InputError(f"{source}: console.backup_dir: must be a folder path, got {folder!r}")
        out["backup_dir"] = folder.strip()
    if every is not None and folder is None:
        raise InputError(f"{source}: console.backup_dir: missing; backup_every_minutes needs the folder to write to")
    keep = console.get("backup_keep")
    if keep is not None:
        if isinstance(keep, bool) or not isinstance(keep, int) or not 1 <= keep <= 1000:
            raise InputError(f"{source}: console.backup_keep: must be a whole number from 1 to 1000, got {keep!r}")
        out["backup_keep"] = keep
    return out


def _no_unknown_keys(table: dict[str, Any], allowed: tuple[str, ...], source: str, prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise InputError(
                f"{source}: {prefix}{key}: unknown key; expected one of {', '.join(allowed)}"
            )


def _parse_lane(item: dict[str, Any], index: int, source: str) -> LaneConfig:
    where = f"lanes[{index}]"
    code = item.get("code")
    if code is None:
        raise InputError(f"{source}: {where}.code: missing; every lane needs a code such as \"E1\"")
    if not isinstance(code, str) or not _LANE_CODE.fullmatch(code):
        raise InputError(
            f"{source}: {where}.code: must be 1 to 8 capital letters or digits (A-Z, 0-9), got {code!r}"
        )
    label = f" (lane {code})"
    for key in item:
        if key not in _LANE_KEYS:
            raise InputError(f"{source}: {where}.{key}{label}: unknown key; expected one of {', '.join(_LANE_KEYS)}")

    name = item.get("name")
    if name is None:
        raise InputError(f"{source}: {where}.name{label}: missing; give the lane a name such as \"Entry 1\"")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > _MAX_NAME:
        raise InputError(f"{source}: {where}.name{label}: must be text of 1 to {_MAX_NAME} characters, got {name!r}")

    direction = item.get("direction")
    if direction is None:
        raise InputError(f"{source}: {where}.direction{label}: missing; must be entry or exit")
    try:
        direction = LaneDirection(direction)
    except (ValueError, TypeError):
        raise InputError(f"{source}: {where}.direction{label}: must be entry or exit, got {direction!r}") from None

    urls: dict[str, str | None] = {}
    for kind in DEVICE_KINDS:
        value = item.get(kind)
        if value is None:
            urls[kind] = None
            continue
        if not isinstance(value, str) or not value.strip():
            raise InputError(
                f"{source}: {where}.{kind}{label}: must be a device URL such as \"standin://\", got {value!r}"
            )
        value = value.strip()
        try:
            KINDS[kind].parse(value)
        except InputError as exc:
            raise InputError(f"{source}: {where}.{kind}{label}: {exc}") from None
        urls[kind] = value
    if urls.get("display") is not None and direction != LaneDirection.EXIT:
        raise InputError(f"{source}: {where}.display{label}: a customer display shows the fee and the change, so it "
                         "belongs on an exit lane; remove it or make the lane direction = \"exit\"")
    confirm = item.get("confirm_below")
    if confirm is not None and (isinstance(confirm, bool) or not isinstance(confirm, (int, float))
                                or not 0.0 <= float(confirm) <= 1.0):
        raise InputError(f"{source}: {where}.confirm_below{label}: must be a confidence between 0 and 1 "
                         f"(camera reads under it are confirmed), got {confirm!r}")
    return LaneConfig(code=code, name=name.strip(), direction=direction, **urls,
                      confirm_below=None if confirm is None else float(confirm))


def default_config() -> ConsoleConfig:
    """Two entry and two exit lanes (E1, E2, X1, X2) with stand-in devices."""
    devices = {kind: "standin://" for kind in DEVICE_KINDS}
    entry = {kind: url for kind, url in devices.items() if kind != "display"}  # displays are exit-lane devices
    return ConsoleConfig(
        lanes=(
            LaneConfig("E1", "Entry 1", LaneDirection.ENTRY, **entry),
            LaneConfig("E2", "Entry 2", LaneDirection.ENTRY, **entry),
            LaneConfig("X1", "Exit 1", LaneDirection.EXIT, **devices),
            LaneConfig("X2", "Exit 2", LaneDirection.EXIT, **devices),
        ),
        theme=None,
        source="<default>",
    )


@dataclass
class LaneDevices:
    """The opened devices of one lane.

    A device that is not configured is None; one that failed to open is None
    too, with a ``faults[kind]`` status (faulted, with the reason) until
    :meth:`retry` opens it. Thread-safe for :meth:`status` and :meth:`retry`.
    """

    lane: LaneConfig
    printer: TicketPrinter | None = None
    gate: Gate | None = None
    scanner: Scanner | None = None
    camera: PlateCamera | None = None
    display: CustomerDisplay | None = None
    faults: dict[str, DeviceStatus] = field(default_factory=dict)
    printer_timeout: float = DEFAULT_TIMEOUT
    gate_hold_seconds: float | None = None
    _on_code: Callable[[str], None] | None = field(default=None, repr=False)
    _on_read: Callable[[PlateRead], None] | None = field(default=None, repr=False)
    _on_gate: GateListener | None = field(default=None, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def device_name(self, kind: str) -> str:
        """``"E1.gate"``: how the CLI and logs name a device."""
        return f"{self.lane.code}.{kind}"

    def url(self, kind: str) -> str | None:
        """The configured URL of ``kind`` (None: not configured)."""
        return getattr(self.lane, kind)

    def status(self) -> dict[str, DeviceStatus]:
        """Health of each configured device, by kind (printer, gate, scanner,
        camera, display): a device's own ``status()`` (never I/O), or its open fault."""
        out: dict[str, DeviceStatus] = {}
        with self._lock:
            for kind in DEVICE_KINDS:
                if kind in self.faults:
                    out[kind] = self.faults[kind]
                    continue
                device = getattr(self, kind)
                if device is not None:
                    try:
                        out[kind] = device.status()
                    except Exception as exc:  # noqa: BLE001 - a status bug shows as a fault
                        out[kind] = DeviceStatus(DeviceState.FAULTED, f"status unavailable: {exc}")
        return out

    def start(self, on_code: Callable[[str], None] | None = None, on_read: Callable[[PlateRead], None] | None = None,
              on_gate: GateListener | None = None) -> None:
        """Start the scanner (``on_code``) and camera (``on_read``) and listen to
        the gate (``on_gate``); callbacks run on device threads. They are
        remembered, so a device opened later by :meth:`retry` is started too.
        A start that fails is recorded as a fault (and retried)."""
        with self._lock:
            self._on_code, self._on_read, self._on_gate = on_code, on_read, on_gate
        for kind in ("scanner", "camera", "gate"):
            self._start(kind)

    def _start(self, kind: str) -> None:
        with self._lock:
            device = getattr(self, kind)
            callback = {"scanner": self._on_code, "camera": self._on_read, "gate": self._on_gate}[kind]
        if device is None or callback is None:
            return
        problem: str | None = None
        try:
            if kind == "gate":
                device.add_listener(callback)
            else:
                device.start(callback)
        except DeviceError as exc:
            if "already running" not in str(exc):
                problem = str(exc)
        except Exception as exc:  # noqa: BLE001 - recorded, shown in device health, retried
            problem = str(exc) or type(exc).__name__
        if problem is not None:
            log.warning("lane %s: %s failed to start: %s", self.lane.code, kind, problem)
            with self._lock:
                self.faults[kind] = DeviceStatus(DeviceState.FAULTED, f"{self.device_name(kind)}: {problem}")

    def retry(self) -> list[str]:
        """Open again every device recorded as faulted at open (or start); returns
        the kinds that are now working (started too, if :meth:`start` was
        called). Never raises and holds no lock while a driver opens, so
        :meth:`status` stays instant; call it from a worker every few seconds."""
        with self._lock:
            kinds = [k for k in DEVICE_KINDS if k in self.faults]
        reopened: list[str] = []
        for kind in kinds:
            with self._lock:
                device = getattr(self, kind)
            if device is None:
                faults: dict[str, DeviceStatus] = {}
                device = _open_device(self.lane, kind, self.printer_timeout, self.gate_hold_seconds, faults)
                with self._lock:
                    if device is None:
                        self.faults[kind] = faults[kind]
                        continue
                    setattr(self, kind, device)
                    self.faults.pop(kind, None)
            else:
                with self._lock:
                    self.faults.pop(kind, None)
            self._start(kind)
            with self._lock:
                if kind not in self.faults:
                    reopened.append(kind)
        return reopened

    def close(self) -> None:
        """Stop and close every device; errors are swallowed (shutting down)."""
        for device, method in ((self.scanner, "stop"), (self.camera, "stop"),
                               (self.gate, "close"), (self.printer, "close"), (self.display, "close")):
            if device is not None:
                try:
                    getattr(device, method)()
                except Exception:  # noqa: BLE001, S110 - best effort on shutdown
                    pass


def _open_device(lane: LaneConfig, kind: str, printer_timeout: float, gate_hold_seconds: float | None,
                 faults: dict[str, DeviceStatus]) -> Any:
    """Open one device of ``lane`` through the registry; on failure record
    ``faults[kind]`` and return None."""
    url = getattr(lane, kind)
    context: dict[str, Any] = {
        "printer": {"timeout": printer_timeout, "name": f"{lane.code} ({redact(url)})"},
        "gate": {"lane": lane.code, "hold_seconds": gate_hold_seconds, "name": lane.code},
        "scanner": {"name": f"{lane.code} scanner"},
        "camera": {"lane": lane.code, "name": f"{lane.code} camera"},
        "display": {"name": f"{lane.code} display"},
    }[kind]
    try:
        device = KINDS[kind].open(url, **context)
    except Exception as exc:  # noqa: BLE001 - recorded, shown in device health, retried
        faults[kind] = DeviceStatus(DeviceState.FAULTED, f"{lane.code} {kind} ({redact(url)}): {exc}")
        log.warning("lane %s: %s (%s) could not be opened: %s", lane.code, kind, redact(url), exc)
        return None
    faults.pop(kind, None)
    return device


def open_lane_devices(lane: LaneConfig, *, printer_timeout: float = DEFAULT_TIMEOUT,
                      gate_hold_seconds: float | None = None) -> LaneDevices:
    """Open every device ``lane`` names. Never raises and does no blocking I/O
    (printers connect per job, relay gates and scanners connect on their own
    threads); a device that cannot be opened is recorded in ``faults`` as
    faulted with its message, and :meth:`LaneDevices.retry` tries it again.

    ``printer_timeout`` bounds each print job (seconds); ``gate_hold_seconds``
    overrides the gate's hold (sim) or pulse (relays) time.
    """
    devices = LaneDevices(lane=lane, printer_timeout=printer_timeout, gate_hold_seconds=gate_hold_seconds)
    for kind in DEVICE_KINDS:
        if getattr(lane, kind) is None:
            continue
        setattr(devices, kind, _open_device(lane, kind, printer_timeout, gate_hold_seconds, devices.faults))
    return devices
