"""The stored form of a plan version (``RatePlan.to_dict()``) does not change.

Plan versions live in the database as this JSON body and are read back with
``RatePlan.from_dict`` (BRIEF.md feature 5: versioned, never edited in place,
"so history reprices the same"). The body and the fees below were produced by
the engine before the rates module became a package; they are a contract with
every version already stored.
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from attendant.core.rates import RatePlan, compute_fee, parse_rate_plan

LONDON = ZoneInfo("Europe/London")

SOURCE = """\
name = "Stored form"
version = "2026-04"
currency = "GBP"
timezone = "Europe/London"
effective_from = 2026-04-01
grace = "10m"
exit_grace = "15m"
vehicle_classes = ["car", "van", "motorcycle"]
holidays = [2026-12-25, "2026-12-28"]
lost_ticket = { price = "20.00", per_day = true, or_fee_if_higher = true }

[surge]
cap = "1.5"
steps = [{ occupancy = 0.8, multiplier = 1.2 }, { occupancy = "95%", multiplier = "1.5" }]

[[tariffs]]
name = "Accessible"
spot_types = ["accessible"]
free = true

[[tariffs]]
name = "Holiday"
days = ["holiday", "sun"]
flat = "3.00"
lost_ticket = { price = "10.00" }

[[tariffs]]
name = "Evening"
vehicles = ["car", "van"]
days = ["mon-fri", "sat"]
arrival = { from = "18:00", to = "08:00" }
leave_by = "08:00"
max_stay = "16h"
beyond = "continue"
grace = 5
flat = "2.50"

[[tariffs]]
name = "Early bird"
arrival = { from = "06:00", to = "09:30" }
leave_after = "15:00"
or_cheaper = true
flat = "9.00"

[[tariffs]]
name = "Day"
charge_hours = [{ days = ["mon-sat"], from = "08:00", to = "18:00" }, { from = "20:00", to = "22:00" }]
bands = [
  { up_to = "1h", price = "1.20" },
  { name = "Day", up_to = "4h", price = "4.00" },
  { over = "4h", up_to = "24h", price = "9.00" },
  { every = "1h", price = "1.10" },
]
daily_max = "18.90"
daily_max_per = "calendar_day"
reset_at_midnight = true
lost_ticket = { band = "Day" }
"""

STORED = """\
{
  "name": "Stored form",
  "version": "2026-04",
  "currency": "GBP",
  "timezone": "Europe/London",
  "effective_from": "2026-04-01",
  "grace": 10,
  "exit_grace": 15,
  "vehicle_classes": [
    "car",
    "van",
    "motorcycle"
  ],
  "holidays": [
    "2026-12-25",
    "2026-12-28"
  ],
  "lost_ticket": {
    "price": "20.00",
    "per_day": true,
    "or_fee_if_higher": true
  },
  "surge": {
    "steps": [
      {
        "occupancy": "0.8",
        "multiplier": "1.2"
      },
      {
        "occupancy": "0.95",
        "multiplier": "1.5"
      }
    ],
    "cap": "1.5"
  },
  "tariffs": [
    {
      "name": "Accessible",
      "spot_types": [
        "accessible"
      ],
      "free": true
    },
    {
      "name": "Holiday",
      "days": [
        "sun",
        "holiday"
      ],
      "bands": [
        {
          "price": "3.00"
        }
      ],
      "lost_ticket": {
        "price": "10.00"
      }
    },
    {
      "name": "Evening",
      "vehicles": [
        "car",
        "van"
      ],
      "days": [
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat"
      ],
      "arrival": {
        "from": "18:00",
        "to": "08:00"
      },
      "leave_by": "08:00",
      "max_stay": 960,
      "beyond": "continue",
      "grace": 5,
      "bands": [
        {
          "price": "2.50"
        }
      ]
    },
    {
      "name": "Early bird",
      "arrival": {
        "from": "06:00",
        "to": "09:30"
      },
      "leave_after": "15:00",
      "or_cheaper": true,
      "bands": [
        {
          "price": "9.00"
        }
      ]
    },
    {
      "name": "Day",
      "bands": [
        {
          "up_to": 60,
          "price": "1.20"
        },
        {
          "name": "Day",
          "up_to": 240,
          "price": "4.00"
        },
        {
          "up_to": 1440,
          "price": "9.00"
        },
        {
          "every": 60,
          "price": "1.10"
        }
      ],
      "daily_max": "18.90",
      "daily_max_per": "calendar_day",
      "reset_at_midnight": true,
      "charge_hours": [
        {
          "days": [
            "mon",
            "tue",
            "wed",
            "thu",
            "fri",
            "sat"
          ],
          "from": "08:00",
          "to": "18:00"
        },
        {
          "from": "20:00",
          "to": "22:00"
        }
      ],
      "lost_ticket": {
        "band": "Day"
      }
    }
  ]
}
"""


def stored(plan: RatePlan) -> str:
    return json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n"


def test_the_plan_file_gives_the_stored_body_key_for_key() -> None:
    plan = parse_rate_plan(SOURCE, "stored.toml")
    assert stored(plan) == STORED  # the same keys, values and order


def test_a_stored_body_reads_back_to_the_same_plan() -> None:
    plan = RatePlan.from_dict(json.loads(STORED))
    assert plan == parse_rate_plan(SOURCE, "stored.toml")
    assert stored(plan) == STORED


def at(day: int, hour: int, minute: int = 0, month: int = 7) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("entry", "exit_", "kw", "amount", "lines", "tariff"),
    [
        (
            at(6, 18, 30), at(7, 10, 15), {"vehicle_class": "car"},
            650,
            [("Evening: Flat rate", 810, 250), ("Day: Day", 135, 400)],
            "Evening",
        ),
        (
            at(7, 7), at(7, 16), {"vehicle_class": "van", "occupancy": 0.96},
            1725,
            [
                ("Evening: Flat rate", 60, 250),
                ("Evening: Occupancy surge ×1.5", 0, 125),
                ("Early bird: Flat rate", 480, 900),
                ("Early bird: Occupancy surge ×1.5", 0, 450),
            ],
            "Evening",
        ),
        (
            at(7, 10), at(9, 21, 1), {"vehicle_class": "car", "occupancy": 0.85},
            3240,
            [
                ("Tue 7 Jul: Up to 24 h", 840, 900),
                ("Wed 8 Jul: Up to 24 h", 1440, 900),
                ("Thu 9 Jul: Up to 24 h", 1261, 900),
                ("Occupancy surge ×1.2", 0, 540),
            ],
            "Day",
        ),
        (
            at(7, 10), at(9, 12), {"vehicle_class": "car", "lost": True},
            400,
            [("Lost ticket, charged as Day", 3000, 400)],
            "Day",
        ),
        (
            at(25, 10, month=12), at(25, 12, month=12), {"vehicle_class": "motorcycle", "lost": True},
            1000,
            [("Lost ticket", 120, 1000)],
            "Holiday",
        ),
        (
            at(7, 10), at(7, 10, 9), {"vehicle_class": "car", "spot_type": "accessible"},
            0,
            [("Accessible: free", 9, 0)],
            "Accessible",
        ),
        (
            at(24, 19, month=10), at(26, 9, 30, month=10), {"vehicle_class": "car", "occupancy": 0.9},
            660,
            [
                ("Evening: Flat rate", 840, 250),
                ("Evening: Occupancy surge ×1.2", 0, 50),
                ("Holiday: Flat rate", 1530, 300),
                ("Holiday: Occupancy surge ×1.2", 0, 60),
            ],
            "Evening",
        ),
    ],
)
def test_stored_body_reprices_history_the_same(
    entry: datetime, exit_: datetime, kw: dict, amount: int, lines: list, tariff: str
) -> None:
    plan = RatePlan.from_dict(json.loads(STORED))
    fee = compute_fee(plan, entry, exit_, tz=LONDON, **kw)
    assert (fee.amount, [(ln.label, ln.minutes, ln.amount) for ln in fee.lines], fee.tariff) == (amount, lines, tariff)
    assert fee.plan_version == "2026-04"
