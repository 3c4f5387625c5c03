"""The booth: the one API of both front ends (:class:`Booth`), built by :func:`open_booth`.

Requests travel as typed objects (:class:`EntryRequest`, :class:`ExitRequest`
with its :class:`Tender` list) from the console's forms or the CLI's options
to the booth; see :mod:`attendant.booth.booth`.
"""

from attendant.booth.booth import Booth, EntryOutcome, ExitOutcome
from attendant.booth.printouts import duration_text
from attendant.booth.wiring import open_booth
from attendant.core.requests import EntryRequest, ExitRequest, Tender

__all__ = ["Booth", "EntryOutcome", "EntryRequest", "ExitOutcome", "ExitRequest", "Tender", "duration_text",
           "open_booth"]
