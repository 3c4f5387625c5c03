"""Rate plans (tariffs) and the fee engine (BRIEF.md feature 5; rules and format: ``docs/rates.md``).

A rate plan is written in TOML, validated into frozen dataclasses, stored as
JSON (one row per version; :meth:`RatePlan.to_dict` / :meth:`RatePlan.from_dict`)
and used by :func:`compute_fee` to price a parking session with the plan
version in force at its entry (rate locked at entry), so history reprices the
same. The package, one responsibility a module:

* :mod:`~attendant.core.rates.model`: the plan and fee dataclasses and their stored form;
* :mod:`~attendant.core.rates.engine`: :func:`compute_fee` and :func:`exit_deadline`;
* :mod:`~attendant.core.rates.text`: :func:`format_minutes`, breakdown labels, plan summaries;
* :mod:`~attendant.core.rates.facility_time`: day types and wall-clock times in the facility's zone;
* :mod:`~attendant.core.rates.validation`: a plan's dict form into a :class:`RatePlan`, :class:`RatePlanError`;
* :mod:`~attendant.core.rates.loading`: plan files (TOML) and the lines their errors point at.

Importing this package loads the model and the engine only: ``load_rate_plan``,
``parse_rate_plan`` and ``RatePlanError`` are imported on first use (PEP 562
``__getattr__``), so code that only prices stays does not load the TOML
readers and the validator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from attendant.core.rates.engine import compute_fee, exit_deadline
from attendant.core.rates.model import (
    Band,
    ChargeWindow,
    Fee,
    FeeLine,
    LostTicket,
    RatePlan,
    Surge,
    Tariff,
    TimeWindow,
)
from attendant.core.rates.text import format_minutes

if TYPE_CHECKING:
    from attendant.core.rates.loading import load_rate_plan, parse_rate_plan
    from attendant.core.rates.validation import RatePlanError

__all__ = [
    "Band",
    "ChargeWindow",
    "Fee",
    "FeeLine",
    "LostTicket",
    "RatePlan",
    "RatePlanError",
    "Surge",
    "Tariff",
    "TimeWindow",
    "compute_fee",
    "exit_deadline",
    "format_minutes",
    "load_rate_plan",
    "parse_rate_plan",
]

_ON_FIRST_USE = {
    "load_rate_plan": "attendant.core.rates.loading",
    "parse_rate_plan": "attendant.core.rates.loading",
    "RatePlanError": "attendant.core.rates.validation",
}


def __getattr__(name: str) -> Any:
    """Import the plan-file readers on first use (PEP 562); see the module docstring."""
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
