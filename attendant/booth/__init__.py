"""The booth: the one API of both front ends (:class:`Booth`), built by :func:`open_booth`.

Requests travel as typed objects (:class:`EntryRequest`, :class:`ExitRequest`
with its :class:`Tender` list) from the console's forms or the CLI's options
to the booth; see :mod:`attendant.booth.booth`.

Names load on first use (PEP 562), so a command that only reads (``attendant
status``) does not import the lanes' device layer.
"""

from importlib import import_module

_WHERE = {
    "Booth": "attendant.booth.booth",
    "EntryOutcome": "attendant.booth.booth",
    "ExitOutcome": "attendant.booth.booth",
    "duration_text": "attendant.booth.printouts",
    "open_booth": "attendant.booth.wiring",
    "open_services": "attendant.booth.wiring",
    "open_views": "attendant.booth.wiring",
    "EntryRequest": "attendant.core.requests",
    "ExitRequest": "attendant.core.requests",
    "Tender": "attendant.core.requests",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    try:
        module = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'attendant.booth' has no attribute {name!r}") from None
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
