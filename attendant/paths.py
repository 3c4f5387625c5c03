"""Where the console keeps its files (platformdirs).

``ATTENDANT_HOME`` moves everything under one folder (tests, demos, a USB
stick); otherwise the platform's user data and config folders are used. Both
are created private to their user (mode 0700). The site's secrets (ticket
keys, personal-data keys) live in the config folder, outside the database, so
a copy of the database alone can neither forge tickets nor read plates
(:mod:`attendant.keyfiles`).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "attendant"


def data_dir() -> Path:
    """Folder for databases (created if missing)."""
    home = os.environ.get("ATTENDANT_HOME")
    path = Path(home) / "data" if home else Path(platformdirs.user_data_dir(APP_NAME))
    return _private_dir(path)


def config_dir() -> Path:
    """Folder for configuration and the ticket secret (created if missing)."""
    home = os.environ.get("ATTENDANT_HOME")
    path = Path(home) / "config" if home else Path(platformdirs.user_config_dir(APP_NAME))
    return _private_dir(path)


def _private_dir(path: Path) -> Path:
    """``path``, created private to its user (mode 0700) when missing; an existing folder is left as it is."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask
    return path


def default_db_url(name: str = "attendant.db") -> str:
    """SQLAlchemy URL of the default SQLite database in :func:`data_dir`."""
    return f"sqlite:///{data_dir() / name}"


def secret_path() -> Path:
    """Path of the ticket keys' file (``ATTENDANT_SECRET_FILE`` overrides): :mod:`attendant.keyfiles`."""
    from attendant.keyfiles import ticket_secret_path

    return ticket_secret_path()
