"""The device URL registry (hardware.devices) and its one option parser (hardware.urls).

Every kind (printer, gate, scanner, camera) is a table of schemes; these tests
walk the tables themselves, so a scheme added later is checked the same way.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from attendant.core.errors import InputError
from hardware.base import DeviceState, GateState
from hardware.devices import DEVICE_KINDS, KINDS
from hardware.gates import SIM_SCHEMES
from hardware.urls import BAUDRATES, DeviceKind, Scheme, redact, split_device_url

ROOT = Path(__file__).resolve().parents[1]
WAIT = 5.0
SCHEMES = [(kind, scheme) for kind in KINDS.values() for scheme in kind.schemes.values()]

#: A serial-line URL of each kind, with "{rate}" for the baud rate.
SERIAL_URLS = {
    "printer": "serial:///dev/ttyUSB0?baudrate={rate}",
    "scanner": "serial:///dev/ttyACM0?baudrate={rate}",
    "gate (LCUS)": "lcus:///dev/ttyUSB0?baudrate={rate}",
    "gate (Modbus RTU)": "modbus+rtu:///dev/ttyUSB0?baudrate={rate}",
}


def kind_of(label: str) -> DeviceKind:
    return KINDS[label.split()[0]]


def reason(error: InputError) -> str:
    """The message after "<kind> URL '<url>': "."""
    return str(error).split("': ", 1)[1]


def test_the_registry_has_the_five_kinds_in_lane_order() -> None:
    assert DEVICE_KINDS == ("printer", "gate", "scanner", "camera", "display")
    assert all(kind.name == name for name, kind in KINDS.items())
    assert KINDS["gate"].names == ("sim", "standin", "lcus", "modbus+tcp", "modbus+rtu")
    assert SIM_SCHEMES == KINDS["gate"].stand_in_names == ("sim", "standin")
    assert KINDS["printer"].stand_in_names == ("dummy", "standin")
    assert KINDS["scanner"].stand_in_names == KINDS["camera"].stand_in_names == ("standin",)
    assert KINDS["display"].names == ("standin", "serial", "tcp") and KINDS["display"].stand_in_names == ("standin",)


@pytest.mark.parametrize(("kind", "scheme"), SCHEMES, ids=lambda item: getattr(item, "name", None))
def test_every_registered_scheme_parses_its_documented_example(kind: DeviceKind, scheme: Scheme) -> None:
    address = kind.parse(scheme.example)
    assert address is not None
    assert getattr(address, "scheme", scheme.name) == scheme.name


@pytest.mark.parametrize(("kind", "scheme"), SCHEMES, ids=lambda item: getattr(item, "name", None))
def test_every_scheme_refuses_an_unknown_option_by_name(kind: DeviceKind, scheme: Scheme) -> None:
    if scheme.name in ("rtsp", "rtsps", "http", "https"):
        pytest.skip("a stream's query belongs to the camera and goes to FFmpeg")
    url = scheme.example + ("&" if "?" in scheme.example else "?") + "colour=red"
    with pytest.raises(InputError) as failure:
        kind.parse(url)
    assert str(failure.value).startswith(f"{kind.name} URL {url!r}: unknown option 'colour'")


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=lambda kind: kind.name)
def test_an_unknown_scheme_lists_the_registrys_schemes(kind: DeviceKind) -> None:
    with pytest.raises(InputError) as failure:
        kind.parse("gopher://device")
    message = str(failure.value)
    assert message == (f"{kind.name} URL 'gopher://device': unknown scheme 'gopher'; use one of "
                       + ", ".join(f"{name}://" for name in kind.names))
    for bad, words in (("", "is empty; use one of"), ("/dev/ttyUSB0", "it has no scheme://; use one of"),
                       (42, "must be text")):
        with pytest.raises(InputError, match=re.escape(words)):
            kind.parse(bad)


def test_near_misses_get_a_did_you_mean() -> None:
    with pytest.raises(InputError, match=r"unknown scheme 'modbus-rtu' \(did you mean modbus\+rtu://\?\)"):
        KINDS["gate"].parse("modbus-rtu:///dev/ttyUSB0")
    with pytest.raises(InputError, match=r"did you mean serial://\?"):
        KINDS["printer"].parse("serail:///dev/ttyUSB0")


@pytest.mark.parametrize("label", list(SERIAL_URLS))
def test_one_baud_rate_list_for_printers_scanners_and_gates(label: str) -> None:
    kind, template = kind_of(label), SERIAL_URLS[label]
    for rate in BAUDRATES:
        address = kind.parse(template.format(rate=rate))
        settings = getattr(address, "params", None) or getattr(address, "serial")
        assert settings["baudrate"] == rate
    for rate, words in (("12345", "baudrate 12345 is not a standard rate; use one of "
                                  + ", ".join(map(str, BAUDRATES))),
                        ("fast", "baudrate must be a whole number, got 'fast'")):
        with pytest.raises(InputError) as failure:
            kind.parse(template.format(rate=rate))
        assert reason(failure.value) == words  # the same sentence for every kind


def test_the_baud_rate_list_is_the_union_of_standard_rates() -> None:
    assert BAUDRATES == (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
    serial = pytest.importorskip("serial")
    assert set(BAUDRATES) <= set(serial.Serial.BAUDRATES)  # every one is a pyserial standard rate


@pytest.mark.parametrize(
    ("kind", "url", "words"),
    [
        ("printer", "tcp://p?columns=abc", "columns must be a whole number, got 'abc'"),
        ("printer", "tcp://p?cutter=maybe", "cutter must be yes or no, got 'maybe'"),
        ("printer", "usb://04b8:0202?in_ep=zz", "in_ep must be a hex number, got 'zz'"),
        ("gate", "sim://?limit=maybe", "limit must be yes or no, got 'maybe'"),
        ("gate", "lcus:///dev/ttyUSB0?pulse=soon", "pulse must be a number of seconds, got 'soon'"),
        ("gate", "modbus+tcp://10.0.0.9?timeout=61", "timeout must be between 0 and 60 seconds, got 61"),
        ("gate", "modbus+rtu:///dev/ttyUSB0?stopbits=1.5", "stopbits must be 1 or 2, got '1.5'"),
        ("scanner", "serial:///dev/ttyACM0?parity=X", "parity must be N, E, O, M or S, got 'X'"),
        ("scanner", "serial:///dev/ttyACM0?frame_timeout=20", "frame_timeout must be between 0.05 and 10 seconds"),
        ("camera", "file:///tmp/clips/?loop=sometimes", "loop must be yes or no, got 'sometimes'"),
        ("camera", "opencv://0?fps=5", "unknown option 'fps' for opencv://; expected one of region"),
        ("display", "serial:///dev/ttyUSB1?codepage=1252", "codepage must be 437, 850 or 858, got '1252'"),
        ("display", "tcp://10.0.0.9:9100?columns=80", "columns must be between 16 and 40, got 80"),
    ],
)
def test_a_bad_option_value_names_the_option(kind: str, url: str, words: str) -> None:
    with pytest.raises(InputError) as failure:
        KINDS[kind].parse(url)
    assert str(failure.value).startswith(f"{kind} URL {url!r}: {words}")


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=lambda kind: kind.name)
def test_query_syntax_is_checked_the_same_way_everywhere(kind: DeviceKind) -> None:
    example = kind.schemes["standin"].example if "standin" in kind.schemes else kind.names[0] + "://"
    for query, words in (("?a=1&A=2", "option 'a' is given twice"), ("?a", "malformed query 'a'"),
                         ("#frag", "a '#' fragment is not allowed")):
        with pytest.raises(InputError) as failure:
            kind.parse(example + query)
        assert reason(failure.value) == words


def test_passwords_never_reach_messages() -> None:
    assert redact("rtsp://admin:secret@10.0.0.5/stream") == "rtsp://***@10.0.0.5/stream"
    assert redact("tcp://10.0.0.5:9100") == "tcp://10.0.0.5:9100"
    with pytest.raises(InputError) as failure:
        KINDS["printer"].parse("tcp://admin:secret@10.0.0.5:9100")
    assert "secret" not in str(failure.value) and "takes no user or password" in str(failure.value)


def test_nested_serial_ports() -> None:
    assert split_device_url("lcus:loop://?pulse=1", "gate") == ("loop://", "pulse=1")
    assert KINDS["scanner"].parse("serial://socket://10.0.0.8:4001?terminator=LF").port == "socket://10.0.0.8:4001"
    with pytest.raises(InputError, match="takes a device path such as /dev/ttyUSB0, not loop://"):
        KINDS["printer"].parse("serial://loop://")  # python-escpos opens serial.Serial, not pyserial URLs


def test_a_kind_refuses_a_scheme_registered_twice() -> None:
    scheme = KINDS["gate"].schemes["sim"]
    with pytest.raises(ValueError, match="registered twice"):
        DeviceKind("gate", (scheme, scheme))
    with pytest.raises(ValueError, match="example"):
        DeviceKind("gate", (Scheme("relay", scheme.parse, scheme.open, "sim://"),))


def test_every_stand_in_opens_through_the_registry_and_works() -> None:
    printer = KINDS["printer"].open("standin://", name="E1 printer")
    printer.print_text(["registry"])
    assert "registry" in printer.last_text and printer.status().state == DeviceState.OK
    gate = KINDS["gate"].open("sim://?hold=0.05", lane="E1", name="E1")
    try:
        assert gate.vend("ticket").state == GateState.OPEN
    finally:
        gate.close()
    scanner = KINDS["scanner"].open("standin://", name="E1 scanner")
    camera = KINDS["camera"].open("standin://", lane="E1", name="E1 camera")
    codes: list[str] = []
    scanner.start(codes.append)
    camera.start(lambda read: codes.append(read.plate))
    try:
        scanner.push("T1.code")
        camera.push("AB12CDE", 0.9)
        assert scanner.wait_idle(WAIT) and camera.wait_idle(WAIT)
        assert sorted(codes) == ["AB12CDE", "T1.code"]
    finally:
        scanner.stop()
        camera.stop()


def test_importing_the_config_loads_no_device_library_and_relays_do_not_import_gates() -> None:
    code = (
        "import sys, hardware.relays\n"
        "assert 'hardware.gates' not in sys.modules, 'relays import the gate table'\n"
        "import hardware.config\n"
        "heavy = ('escpos', 'serial', 'pymodbus', 'cv2', 'numpy', 'rapidocr', 'PIL', 'qrcode', 'barcode', 'usb',\n"
        "         'hardware.anpr', 'hardware.plate_reader')\n"
        "loaded = sorted(m for m in heavy if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
