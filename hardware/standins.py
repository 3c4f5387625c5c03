"""Stand-in scanner and plate camera: real threads fed from a queue.

They behave like the real drivers will (a reader thread that calls the
callback, a stop event, a bounded join) but take their input from
:meth:`push`, so the demo, the replay feature and the tests can "scan a
ticket" or "read a plate" from any thread. Callbacks run on the device's own
thread, in push order; a callback that raises is logged and the thread goes on.

URLs: ``standin://`` (no host, path or options), opened by
:func:`open_standin_scanner` and :func:`open_standin_camera` through the
scanner and camera scheme tables (:mod:`hardware.scanners`,
:mod:`hardware.cameras`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from attendant.core.errors import InputError

from hardware.base import (
    DeviceError,
    DeviceState,
    DeviceStatus,
    PlateCamera,
    PlateRead,
    Scanner,
    utc_now,
)
from hardware.plate_picture import picture_bytes
from hardware.urls import DeviceUrl

__all__ = [
    "StandinPlateCamera",
    "StandinScanner",
    "open_standin_camera",
    "open_standin_scanner",
    "parse_standin_url",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
_STOP = object()
DEFAULT_JOIN_TIMEOUT = 1.0


class _QueueReader(Generic[T]):
    """A stoppable reader thread that hands queued items to a callback."""

    def __init__(self, name: str, join_timeout: float) -> None:
        self.name = name
        self.join_timeout = join_timeout
        self._queue: queue.Queue[Any] = queue.Queue()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._pending = 0
        self._delivered = 0
        self._carry: list[Any] = []  # an item taken off the queue as a stop came in

    @property
    def running(self) -> bool:
        """True while the reader thread is alive and not asked to stop."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive() and not self._stop_event.is_set()

    @property
    def delivered(self) -> int:
        """How many items were handed to the callback so far."""
        with self._idle:
            return self._delivered

    def put(self, item: T) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(item)

    def start(self, callback: Callable[[T], None]) -> None:
        if not callable(callback):
            raise InputError(f"{self.name}: the callback must be callable, got {callback!r}")
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise DeviceError(f"{self.name} is already running", device=self.name)
            self._stop_event.clear()
            self._thread = threading.Thread(target=self._run, args=(callback,), name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> bool:
        """Ask the thread to stop and join it; False if it did not end in time."""
        with self._lock:
            thread = self._thread
            if thread is None:
                return True
            self._stop_event.set()
            self._queue.put(_STOP)
        if thread is threading.current_thread():
            return False
        thread.join(self.join_timeout)
        if thread.is_alive():
            log.warning("%s did not stop within %.1f s", self.name, self.join_timeout)
            return False
        with self._lock:
            if self._thread is thread:
                self._thread = None
        return True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every pushed item was delivered; False on timeout (seconds).

        Items pushed while stopped stay queued, so this waits for a start.
        """
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _run(self, callback: Callable[[T], None]) -> None:
        while True:
            item = self._carry.pop() if self._carry else self._queue.get()
            if item is _STOP:
                if self._stop_event.is_set():
                    return
                continue  # a stale stop marker from an earlier run
            if self._stop_event.is_set():
                self._carry.append(item)  # delivered first on the next start, in order
                return
            try:
                callback(item)
            except Exception:  # noqa: BLE001 - a consumer's bug must not kill the reader
                log.exception("callback of %s failed on %r", self.name, item)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._delivered += 1
                    self._idle.notify_all()


class _QueuedStandIn:
    """What the queue-fed stand-ins share: stop, wait, running and status over ``self._reader``."""

    _reader: _QueueReader
    KIND = "device"  # "scanner", "camera": for the status message

    def stop(self) -> None:
        """Stop the thread; joins for at most ``join_timeout`` seconds."""
        self._reader.stop()

    def wait_idle(self, timeout: float = 1.0) -> bool:
        """Wait until every pushed item was delivered (tests, demo); seconds."""
        return self._reader.wait_idle(timeout)

    @property
    def running(self) -> bool:
        """True while started."""
        return self._reader.running

    def status(self) -> DeviceStatus:
        """ok while started, unknown when stopped."""
        if self._reader.running:
            return DeviceStatus(DeviceState.OK, f"stand-in {self.KIND} ready")
        return DeviceStatus(DeviceState.UNKNOWN, f"stand-in {self.KIND} stopped")


class StandinScanner(_QueuedStandIn, Scanner):
    """A barcode/QR scanner whose "scans" are pushed in by code.

    :meth:`push` may be called from any thread, before or after :meth:`start`;
    codes are delivered in order to ``on_code`` on the scanner's thread. A
    trailing CR/LF (the suffix real scanners send) is removed.
    """

    KIND = "scanner"

    def __init__(self, name: str = "stand-in scanner", *, join_timeout: float = DEFAULT_JOIN_TIMEOUT) -> None:
        self.name = name
        self._reader: _QueueReader[str] = _QueueReader(name, join_timeout)

    def push(self, code: str) -> None:
        """Queue one scanned code. :raises InputError: ``code`` is not text."""
        if not isinstance(code, str):
            raise InputError(f"{self.name}: a scanned code must be text, got {code!r}")
        self._reader.put(code.rstrip("\r\n"))

    def start(self, on_code: Callable[[str], None]) -> None:
        """Start delivering codes to ``on_code`` (on the scanner's thread). :raises DeviceError: already started."""
        self._reader.start(on_code)


class StandinPlateCamera(_QueuedStandIn, PlateCamera):
    """An LPR camera whose reads are pushed in by code (demo, replay, tests).

    ``lane`` is put on reads that do not name one; ``source`` on each read is
    the camera's ``name``.
    """

    KIND = "camera"

    def __init__(self, lane: str | None = None, name: str = "stand-in camera", *,
                 join_timeout: float = DEFAULT_JOIN_TIMEOUT) -> None:
        self.lane = lane
        self.name = name
        self._reader: _QueueReader[PlateRead] = _QueueReader(name, join_timeout)

    def push(self, read: PlateRead | str, confidence: float = 1.0, *, at: datetime | None = None,
             lane: str | None = None, image: bytes | None = None) -> PlateRead:
        """Queue one plate read and return it.

        ``read`` is a :class:`PlateRead` or a plate text (then ``confidence``
        0..1, ``at`` UTC (default now), ``lane`` (default the camera's) and
        ``image`` (a JPEG or PNG of the plate, made a bounded PNG by
        :func:`hardware.plate_picture.picture_bytes`; None or undecodable: no
        picture) complete it).

        :raises InputError: an empty plate, a confidence outside 0..1, a naive time.
        """
        if not isinstance(read, PlateRead):
            picture = picture_bytes(image) if image is not None else None
            read = PlateRead(read, confidence, at or utc_now(), lane or self.lane, self.name, image=picture)
        self._reader.put(read)
        return read

    def start(self, on_read: Callable[[PlateRead], None]) -> None:
        """Start delivering reads to ``on_read`` (on the camera's thread). :raises DeviceError: already started."""
        self._reader.start(on_read)


def parse_standin_url(url: DeviceUrl) -> DeviceUrl:
    """``standin://``: no host or path (options are refused after this).

    :raises InputError: a host or a path.
    """
    url.no_location()
    return url


def open_standin_scanner(address: DeviceUrl, *, name: str | None = None) -> Scanner:
    """A :class:`StandinScanner` for a parsed ``standin://`` (not started)."""
    return StandinScanner(name or "stand-in scanner")


def open_standin_camera(address: DeviceUrl, *, lane: str | None = None, name: str | None = None) -> PlateCamera:
    """A :class:`StandinPlateCamera` for a parsed ``standin://`` on ``lane`` (not started)."""
    return StandinPlateCamera(lane, name or "stand-in camera")
