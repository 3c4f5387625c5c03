"""One device written on its own thread: what count signs and customer displays share.

A lane must never wait for a sign or a pole display, and one that is down
must never take anything down. :class:`DeviceWriter` is that contract, once:

- callers record what the device should show under the writer's lock and
  return at once (the subclass's own ``update``/``show``);
- the thread asks the subclass what is due (:meth:`DeviceWriter._take`), writes
  it outside the lock (:meth:`DeviceWriter._write`) and records the outcome;
- a failed write leaves :meth:`DeviceWriter.status` FAULTED with the driver's
  reason and is retried after a back-off that doubles from ``backoff[0]`` to
  ``backoff[1]`` seconds, reset by the next success (or by new content, when the
  subclass says so); the first failure of a run is logged as a warning, the
  recovery as info;
- :meth:`DeviceWriter.status` never does I/O.

Used by :class:`hardware.signs.SignLink` (debounced counts with a refresh) and
:class:`hardware.displays.CustomerDisplay` (a screen, then the screens that
follow it after delays). Standard library only (``threading``).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from hardware.base import DeviceError, DeviceState, DeviceStatus, error_text

__all__ = ["DeviceWriter"]

log = logging.getLogger(__name__)

#: Longest single wait of the thread (seconds): a wrong clock or a missed notify costs at most this.
MAX_WAIT_S = 5.0


class DeviceWriter(ABC):
    """A device written on its own daemon thread (module docstring).

    ``name`` names the device in logs and messages; ``backoff`` is (first,
    longest) seconds between retries of a failed write; ``status`` is the
    health before the first write; ``clock`` returns monotonic seconds.
    Counters (read them under no lock: they are plain ints): ``writes``
    successful writes, ``failures`` failed writes since the last success;
    ``last_error`` the reason of the last failure (None once one succeeds).
    Subclasses set their own state, then call :meth:`_start`.
    """

    def __init__(self, *, name: str, backoff: tuple[float, float], status: DeviceStatus, thread_name: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.backoff = backoff
        self.clock = clock
        self.writes = 0
        self.failures = 0
        self.last_error: str | None = None
        self._retry_at: float | None = None
        self._delay = backoff[0]
        self._status = status
        self._closed = False
        self._writing = False  # a job taken and not yet recorded (written or failed)
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def _start(self) -> None:
        self._thread.start()

    # ------------------------------------------------------------------ what callers use

    def status(self) -> DeviceStatus:
        """The device's health (no I/O)."""
        with self._cond:
            return self._status

    def _wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait up to ``timeout`` s until ``predicate()`` (called under the lock) holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until no write is under way (one taken is recorded, written or
        failed); True when idle. For a caller about to stop that reports what the device shows."""
        return self._wait_until(lambda: not self._writing, timeout)

    def stop_soon(self) -> None:
        """Ask the thread to stop without waiting for it (closing many devices at once)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _shut(self, join_timeout: float) -> None:
        """Stop the thread (a write under way is bounded by its driver's timeout; the thread is a daemon),
        then release the device; never raises."""
        self.stop_soon()
        if self._thread is not threading.current_thread():
            self._thread.join(join_timeout)
        try:
            self._release()
        except Exception:  # noqa: BLE001, S110 - shutting down
            pass

    def _reset_backoff(self) -> None:
        """Forget a pending retry (caller holds the lock): new content is written at once."""
        self._retry_at = None
        self._delay = self.backoff[0]

    # ------------------------------------------------------------------ what subclasses provide

    @abstractmethod
    def _take(self, now: float) -> tuple[Any, float | None]:
        """Under the lock: ``(job, None)`` to write ``job`` now, or ``(None, wake)`` to sleep until the
        monotonic time ``wake`` (None: until notified). A pending retry is ``self._retry_at``."""

    @abstractmethod
    def _write(self, job: Any) -> Any:
        """Write ``job`` to the device (outside the lock); raises on failure. Returns what was shown."""

    @abstractmethod
    def _written(self, job: Any, result: Any) -> str:
        """Under the lock, after a successful write: record it; return the OK status message."""

    def _retry_wanted(self, job: Any) -> bool:
        """Under the lock, after a failed write: whether ``job`` is still what the device should show
        (otherwise newer content is already waiting and is written without a back-off)."""
        return True

    def _fault_message(self, problem: str, wait: float) -> str:
        return f"{problem} (retry in {wait:g} s)"

    @abstractmethod
    def _release(self) -> None:
        """Close the device's link (after the thread stopped)."""

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    now = self.clock()
                    job, wake = self._take(now)
                    if job is not None:
                        self._writing = True
                        break
                    self._cond.wait(None if wake is None else max(0.0, min(wake - now, MAX_WAIT_S)))
            try:
                result = self._write(job)
            except Exception as exc:  # noqa: BLE001 - a device never takes anything down: health, retry
                problem = str(exc) if isinstance(exc, DeviceError) else error_text(exc)
                with self._cond:
                    self._writing = False
                    self.failures += 1
                    self.last_error = problem
                    if self._retry_wanted(job):
                        wait = self._delay
                        self._retry_at = self.clock() + wait
                        self._delay = min(self._delay * 2, self.backoff[1])
                        self._status = DeviceStatus(DeviceState.FAULTED, self._fault_message(problem, wait))
                    self._cond.notify_all()
                if self.failures == 1:
                    log.warning("%s: %s", self.name, problem)
                continue
            with self._cond:
                self._writing = False
                if self.failures:
                    log.info("%s: back after %d failed writes", self.name, self.failures)
                self.writes += 1
                self.failures = 0
                self.last_error = None
                self._status = DeviceStatus(DeviceState.OK, self._written(job, result))
                self._cond.notify_all()
