"""python-escpos, imported on first use.

Importing escpos parses a YAML capabilities file (~0.6 s) and caches the
result in a fresh temporary directory per process, so the import is deferred
to the first job (or profile lookup) and the cache is pointed at the user
cache directory (``platformdirs.user_cache_dir("attendant")/escpos``), where
later processes find it.
"""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace

__all__ = ["escpos_library"]

_LIB: SimpleNamespace | None = None
_LIB_LOCK = threading.Lock()


def escpos_library() -> SimpleNamespace:
    """python-escpos's ``capabilities``, ``constants``, ``exceptions`` and
    ``printer`` modules, imported once (thread-safe)."""
    global _LIB
    with _LIB_LOCK:
        if _LIB is None:
            if "ESCPOS_CAPABILITIES_PICKLE_DIR" not in os.environ:
                try:
                    import platformdirs

                    cache = os.path.join(platformdirs.user_cache_dir("attendant"), "escpos")
                    os.makedirs(cache, exist_ok=True)
                    os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = cache
                except OSError:
                    pass  # escpos falls back to a temporary directory
            import escpos.capabilities as capabilities
            import escpos.constants as constants
            import escpos.exceptions as exceptions
            import escpos.printer as printer

            _LIB = SimpleNamespace(
                capabilities=capabilities, constants=constants, exceptions=exceptions, printer=printer
            )
        return _LIB
