"""Where the console keeps its files (platformdirs), and the ticket secret.

``ATTENDANT_HOME`` moves everything under one folder (tests, demos, a USB
stick); otherwise the platform's user data and config folders are used.
The ticket-signing secret lives in the config folder, outside the database, so
a copy of the database alone cannot forge tickets.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import platformdirs

APP_NAME = "attendant"


def data_dir() -> Path:
    """Folder for databases (created if missing)."""
    home = os.environ.get("ATTENDANT_HOME")
    path = Path(home) / "data" if home else Path(platformdirs.user_data_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Folder for configuration and the ticket secret (created if missing)."""
    home = os.environ.get("ATTENDANT_HOME")
    path = Path(home) / "config" if home else Path(platformdirs.user_config_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_url(name: str = "attendant.db") -> str:
    """SQLAlchemy URL of the default SQLite database in :func:`data_dir`."""
    return f"sqlite:///{data_dir() / name}"


def secret_path() -> Path:
    """Path of the per-installation ticket secret (``ATTENDANT_SECRET_FILE`` overrides)."""
    override = os.environ.get("ATTENDANT_SECRET_FILE")
    return Path(override) if override else config_dir() / "ticket-secret.key"


def load_or_create_secret() -> bytes:
    """Return the 32-byte ticket secret, creating it (mode 0600) on first use.

    The file holds the secret as hex. Creation uses O_EXCL so two processes
    starting together agree on one secret.
    """
    path = secret_path()
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    value = secrets.token_bytes(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(value.hex() + "\n")
    return value
