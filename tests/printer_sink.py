"""A TCP server standing where a network printer would (127.0.0.1), for tests.

Keeps the bytes of each connection as one job; tests parse them with
:mod:`tests.escpos_parse`. Real sockets, not a mock.
"""

from __future__ import annotations

import socket
import threading


class PrinterSink:
    """A TCP server standing where a network printer would: one byte string per connection."""

    def __init__(self, port: int = 0) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.server.settimeout(0.05)
        self.port = self.server.getsockname()[1]
        self.jobs: list[bytes] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2.0)
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
            with self._cond:
                self.jobs.append(b"".join(chunks))
                self._cond.notify_all()

    def wait_jobs(self, count: int, timeout: float = 2.0) -> list[bytes]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.jobs) >= count, timeout), self.jobs
            return list(self.jobs)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
        self.server.close()

    @classmethod
    def on_port(cls, port: int) -> PrinterSink:
        """A sink on a given port (a printer coming back where it was)."""
        return cls(port)
