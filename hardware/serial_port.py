"""Serial ports, opened one way for every driver (relay boards, loop inputs, scanners).

Library used (not home-made): **pyserial**'s ``serial.serial_for_url``, so a
device path (``/dev/ttyUSB0``, ``COM3``) and pyserial's URLs (``loop://``,
``socket://host:port``, ``rfc2217://host:port``) open the same way. pyserial
is imported when the first port is opened.
"""

from __future__ import annotations

from typing import Any

__all__ = ["open_serial_port"]


def open_serial_port(port: str, **settings: Any) -> Any:
    """Open ``port`` with pyserial settings (``baudrate``, ``timeout`` in seconds, ...).

    A device path is opened exclusive (``exclusive=True``, a POSIX lock): a
    second driver on the same port would garble the relay's frames or steal a
    scanner's bytes. Returns the open ``serial.Serial``-like object.

    :raises serial.SerialException: the port cannot be opened (an ``OSError``).
    """
    import serial  # pyserial

    if "://" not in port:
        settings.setdefault("exclusive", True)
    return serial.serial_for_url(port, **settings)
