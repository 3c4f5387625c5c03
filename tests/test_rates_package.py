"""The rates package's surface: every name outside code imports, and what importing it costs.

Code that only prices stays (the services, the exit form) imports
``attendant.core.rates`` for the model and ``compute_fee``; the TOML readers
and the validator load on first use of ``load_rate_plan``/``parse_rate_plan``/
``RatePlanError``, and tomlkit only when an error needs its line.
"""

from __future__ import annotations

import json
import subprocess
import sys

from attendant.core import rates
from attendant.core.errors import InputError

PROBE = """
import json, sys
import attendant.core.rates as rates
before = sorted(m for m in {watched} if m in sys.modules)
from attendant.core.rates import load_rate_plan, parse_rate_plan, RatePlanError
parse_rate_plan('name = "x"\\ncurrency = "GBP"\\nflat = 1\\n')
after_valid = sorted(m for m in {watched} if m in sys.modules)
try:
    parse_rate_plan('name = "x"\\ncurrency = "GBP"\\nflat = -1\\n', "rates.toml")
except RatePlanError as error:
    message = str(error)
after_error = sorted(m for m in {watched} if m in sys.modules)
print(json.dumps([before, after_valid, after_error, message]))
"""
WATCHED = ["tomllib", "tomlkit", "difflib", "attendant.core.rates.validation", "attendant.core.rates.loading"]


def test_every_exported_name_resolves() -> None:
    for name in rates.__all__:
        assert getattr(rates, name) is not None, name
    assert rates.load_rate_plan.__module__ == "attendant.core.rates.loading"
    assert issubclass(rates.RatePlanError, InputError)


def test_pricing_does_not_load_the_plan_file_readers() -> None:
    code = PROBE.format(watched=WATCHED)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, after_valid, after_error, message = json.loads(out)
    assert before == []
    assert after_valid == sorted(set(WATCHED) - {"tomlkit"})  # a valid plan: no tomlkit
    assert "tomlkit" in after_error
    assert message == "rates.toml:3: flat: negative price -1: amounts must be zero or more"
