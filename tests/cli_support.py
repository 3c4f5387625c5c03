"""Runs ``attendant`` the way a script does, against one database.

By default in this process, through typer's ``CliRunner`` on the real app
(:data:`attendant.cli.app`): the root command
(:class:`attendant.cli.common.AttendantGroup`) prints the same one-line
errors and exits with the same statuses as the console script, so a test
sees what a user sees without paying for a new Python process per command.
``process=True`` runs the real console script in a subprocess (the smoke
tests of the entry point).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from attendant.cli import app

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Ran:
    """What a command printed and how it exited."""

    stdout: str
    stderr: str
    returncode: int


class Attendant:
    """``attendant --db URL ...`` on one database and home folder (``ATTENDANT_HOME``)."""

    def __init__(self, tmp_path: Path, db: str | None = None) -> None:
        self.db = db or f"sqlite:///{tmp_path / 'cli.db'}"
        self.env: dict[str, str | None] = {"ATTENDANT_HOME": str(tmp_path / "home"), "ATTENDANT_DB": None}

    def run(self, *args: str, expect: int = 0, process: bool = False, db: bool = True) -> Ran:
        argv = (["--db", self.db] if db else []) + list(args)
        if process:
            env = {k: v for k, v in {**os.environ, **self.env, "PYTHONPATH": str(REPO)}.items() if v is not None}
            proc = subprocess.run([sys.executable, "-m", "attendant", *argv], capture_output=True, text=True,
                                  env=env, timeout=60)
            ran = Ran(proc.stdout, proc.stderr, proc.returncode)
        else:
            result = CliRunner().invoke(app, argv, env=self.env)
            ran = Ran(result.stdout, result.stderr, result.exit_code)
        assert ran.returncode == expect, f"exit {ran.returncode}: {ran.stderr or ran.stdout}"
        return ran

    def json(self, *args: str) -> dict:
        return json.loads(self.run(*args, "--json").stdout)

    def snapshot(self) -> dict[str, list]:
        """Every row of the tables an operation could change, read straight from the file."""
        with sqlite3.connect(self.db.removeprefix("sqlite:///")) as conn:
            return {
                table: conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
                for table in ("facility", "spot", "vehicle", "parking_session", "payment", "vend", "audit_event")
            }
