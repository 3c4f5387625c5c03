"""The site's secrets, kept in files outside the database: the ticket-signing keys and the personal-data keys.

Two files in the config folder (:func:`attendant.paths.config_dir`, private to
its user: mode 0700), each written mode 0600 and replaced atomically:

- ``ticket-secret.key`` (``ATTENDANT_SECRET_FILE`` overrides): the keys that
  sign ticket codes. JSON ``{"format": "attendant-ticket-keys/1", "current": "B",
  "keys": {"A": "<64 hex>", "B": "<64 hex>"}}``; key ids are single base32
  letters (``A``-``Z``, ``2``-``7``), carried in every code
  (:class:`attendant.core.tickets.TicketSigner`), so a rotated secret leaves
  older tickets verifiable. A file holding one line of hex (the format before
  key ids) is read as key ``A``.
- ``data-keys.json`` (``ATTENDANT_DATA_KEYS_FILE`` overrides): the AES-256-GCM
  keys that encrypt plates and holder names (by key id, decimal), the current
  one, and the separate HMAC-SHA256 key of the blind indexes and ticket-code
  hashes (:mod:`attendant.core.personal_data`).

Neither file is ever created implicitly: :func:`ensure_site_secrets` (called
by ``attendant init`` and the demo setup only) makes missing ones; every other
reader raises :class:`SecretMissing` with the way to install the site's
secrets (``attendant secret import``), because a booth that made its own
secret would refuse every genuine ticket of the site. A file that is empty or
not what it should be raises :class:`SecretUnreadable`.

``attendant secret export`` / ``import`` move both files between booths as one
bundle encrypted under a passphrase (Scrypt n=2**15 r=8 p=1 → AES-256-GCM,
:func:`export_bundle` / :func:`import_bundle`).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from attendant.core.errors import AttendantError, InputError

TICKET_FORMAT = "attendant-ticket-keys/1"
DATA_FORMAT = "attendant-data-keys/1"
BUNDLE_FORMAT = "attendant-site-secrets/1"
#: Ticket key ids, in the order rotations take them (the base32 alphabet of the codes).
TICKET_KEY_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
KEY_BYTES = 32
#: Scrypt cost of an exported bundle (RFC 7914; 2**15 needs 32 MiB and about 0.1 s).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1

INSTALL_HINT = ("copy the site's secrets from a working booth: there run `attendant secret export FILE`, "
                "here `attendant secret import FILE`; a new site runs `attendant init`")


class SecretMissing(AttendantError):
    """A secret file of the site is missing: nothing is created in its place (see the module docstring)."""


class SecretUnreadable(AttendantError):
    """A secret file exists but is empty, damaged or not a secret file."""


@dataclass(frozen=True)
class TicketKeys:
    """Ticket-signing keys by id (one base32 letter) and the id new tickets are signed with."""

    keys: dict[str, bytes]
    current: str

    def to_json(self) -> dict:
        return {"format": TICKET_FORMAT, "current": self.current,
                "keys": {kid: key.hex() for kid, key in self.keys.items()}}


@dataclass(frozen=True)
class DataKeys:
    """Personal-data keys: AES-256-GCM keys by id (decimal text), the current one, the blind-index key."""

    keys: dict[str, bytes]
    current: str
    index_key: bytes
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"format": DATA_FORMAT, "current": self.current,
                "keys": {kid: key.hex() for kid, key in self.keys.items()}, "index": self.index_key.hex()}


# ------------------------------------------------------------------ paths
def ticket_secret_path() -> Path:
    """The ticket keys' file (``ATTENDANT_SECRET_FILE`` overrides the config folder's ``ticket-secret.key``)."""
    from attendant.paths import config_dir

    override = os.environ.get("ATTENDANT_SECRET_FILE")
    return Path(override) if override else config_dir() / "ticket-secret.key"


def data_keys_path() -> Path:
    """The personal-data keys' file (``ATTENDANT_DATA_KEYS_FILE`` overrides ``data-keys.json``)."""
    from attendant.paths import config_dir

    override = os.environ.get("ATTENDANT_DATA_KEYS_FILE")
    return Path(override) if override else config_dir() / "data-keys.json"


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (a temporary file in the same folder, mode 0600, fsynced,
    renamed over it), so a reader sees the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp creates mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path, what: str) -> str:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SecretMissing(f"the {what} file {path} is missing: {INSTALL_HINT}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretUnreadable(f"cannot read the {what} file {path} ({type(exc).__name__}): {INSTALL_HINT}") from None
    if not text.strip():
        raise SecretUnreadable(f"the {what} file {path} is empty: {INSTALL_HINT}")
    return text


def _hex_key(value, path: Path, what: str) -> bytes:
    try:
        key = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        key = b""
    if len(key) < 16:
        raise SecretUnreadable(f"the {what} file {path} holds a key that is not 32 bytes of hex: {INSTALL_HINT}")
    return key


# ------------------------------------------------------------------ ticket keys
def _key_file(text: str, path: Path, what: str, fmt: str, key_id_ok) -> tuple[dict[str, bytes], str, dict]:
    """The keys, the current key id and the whole object of a JSON key file of format ``fmt``.

    ``key_id_ok(kid)`` says whether a key id is well formed. Raises
    :class:`SecretUnreadable` naming ``path`` and how to install the site's secrets.
    """
    try:
        data = json.loads(text)
    except ValueError:
        raise SecretUnreadable(f"the {what} file {path} is not valid JSON: {INSTALL_HINT}") from None
    if not isinstance(data, dict) or data.get("format") != fmt or not isinstance(data.get("keys"), dict):
        raise SecretUnreadable(f"{path} is not a {what} file ({fmt}): {INSTALL_HINT}")
    keys = {}
    for kid, value in data["keys"].items():
        if not (isinstance(kid, str) and key_id_ok(kid)):
            raise SecretUnreadable(f"the {what} file {path} has a bad key id {str(kid)[:8]!r}: {INSTALL_HINT}")
        keys[kid] = _hex_key(value, path, what)
    current = data.get("current")
    if current not in keys:
        raise SecretUnreadable(f"the {what} file {path} names no current key: {INSTALL_HINT}")
    return keys, current, data


def parse_ticket_keys(text: str, path: Path) -> TicketKeys:
    """The ticket keys in ``text`` (the JSON format, or one line of hex: key ``A``). Raises SecretUnreadable."""
    what = "ticket secret"
    stripped = text.strip()
    if not stripped.startswith("{"):
        return TicketKeys({"A": _hex_key(stripped, path, what)}, "A")
    keys, current, _data = _key_file(stripped, path, what, TICKET_FORMAT,
                                     lambda kid: len(kid) == 1 and kid in TICKET_KEY_IDS)
    return TicketKeys(keys, current)


def load_ticket_keys() -> TicketKeys:
    """The site's ticket keys. Raises :class:`SecretMissing` / :class:`SecretUnreadable` (never creates one)."""
    path = ticket_secret_path()
    return parse_ticket_keys(_read(path, "ticket secret"), path)


def save_ticket_keys(keys: TicketKeys) -> None:
    write_private(ticket_secret_path(), json.dumps(keys.to_json(), indent=1) + "\n")


def rotate_ticket_keys() -> TicketKeys:
    """Add a new ticket key (the next id after the current one, wrapping after 32) and make it current.

    Every older key stays, so tickets already printed still verify; the id a
    rotation reuses after 32 rotations loses its old key. Returns the new keys.
    """
    keys = load_ticket_keys()
    kid = TICKET_KEY_IDS[(TICKET_KEY_IDS.index(keys.current) + 1) % len(TICKET_KEY_IDS)]
    new = TicketKeys({**{k: v for k, v in keys.keys.items() if k != kid}, kid: secrets.token_bytes(KEY_BYTES)}, kid)
    save_ticket_keys(new)
    return new


# ------------------------------------------------------------------ data keys
def parse_data_keys(text: str, path: Path) -> DataKeys:
    """The personal-data keys in ``text`` (JSON: sealing keys by id, the current one, the index key).
    Raises SecretUnreadable."""
    what = "personal-data key"
    keys, current, data = _key_file(text, path, what, DATA_FORMAT,
                                    lambda kid: kid.isascii() and kid.isdigit() and len(kid) <= 6)
    return DataKeys(keys, current, _hex_key(data.get("index"), path, what))


def load_data_keys() -> DataKeys:
    """The site's personal-data keys. Raises :class:`SecretMissing` / :class:`SecretUnreadable`."""
    path = data_keys_path()
    return parse_data_keys(_read(path, "personal-data key"), path)


def save_data_keys(keys: DataKeys) -> None:
    write_private(data_keys_path(), json.dumps(keys.to_json(), indent=1) + "\n")


def new_data_keys() -> DataKeys:
    return DataKeys({"1": secrets.token_bytes(KEY_BYTES)}, "1", secrets.token_bytes(KEY_BYTES))


# ------------------------------------------------------------------ creation (init, demo setup)
def _create_exclusive(path: Path, text: str) -> bool:
    """Create ``path`` with ``text`` (mode 0600) unless it exists; O_EXCL, so two processes agree on one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def ensure_site_secrets(*, new_site: bool = True) -> list[Path]:
    """Create the ticket keys and the personal-data keys where missing (``attendant init``, the demo setup).

    Existing files are kept as they are (an existing one that cannot be read
    raises :class:`SecretUnreadable`, nothing is replaced). With ``new_site``
    False (the database already holds sessions) nothing is created: a missing
    file raises :class:`SecretMissing`, since the site's own secrets must be
    installed. Returns the files created.
    """
    if not new_site:
        load_ticket_keys()
        load_data_keys()
        return []
    created = []
    ticket = TicketKeys({"A": secrets.token_bytes(KEY_BYTES)}, "A")
    if _create_exclusive(ticket_secret_path(), json.dumps(ticket.to_json(), indent=1) + "\n"):
        created.append(ticket_secret_path())
    if _create_exclusive(data_keys_path(), json.dumps(new_data_keys().to_json(), indent=1) + "\n"):
        created.append(data_keys_path())
    load_ticket_keys()
    load_data_keys()
    return created


def in_service(engine) -> bool:
    """True when ``engine``'s database already holds parking sessions: a site in service, whose secrets a
    booth must import rather than make (a new secret would refuse its tickets and hide its plates)."""
    from sqlalchemy import select

    from db.models import ParkingSession

    with engine.connect() as conn:
        return conn.execute(select(ParkingSession.id).limit(1)).first() is not None


def ensure_data_keys() -> bool:
    """Create the personal-data keys if missing (the migration that turns encryption on for a site whose
    database already holds rows). Returns True when created."""
    return _create_exclusive(data_keys_path(), json.dumps(new_data_keys().to_json(), indent=1) + "\n")


# ------------------------------------------------------------------ export / import between booths
def _bundle_key(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase.encode())


def export_bundle(passphrase: str) -> bytes:
    """Both secret files as one bundle encrypted under ``passphrase`` (JSON: format, KDF parameters, salt,
    nonce, AES-256-GCM ciphertext, all base64). Raises InputError for a passphrase under 8 characters."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(passphrase) < 8:
        raise InputError("the passphrase must be at least 8 characters")
    plain = json.dumps({"ticket": load_ticket_keys().to_json(), "data": load_data_keys().to_json()}).encode()
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    sealed = AESGCM(_bundle_key(passphrase, salt)).encrypt(nonce, plain, BUNDLE_FORMAT.encode())
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return (json.dumps({"format": BUNDLE_FORMAT, "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R,
                                                         "p": SCRYPT_P, "salt": b64(salt)},
                        "nonce": b64(nonce), "ciphertext": b64(sealed)}, indent=1) + "\n").encode()


def read_bundle(blob: bytes, passphrase: str) -> tuple[TicketKeys, DataKeys]:
    """The secrets in an exported bundle. Raises :class:`InputError` for a damaged or foreign file or a
    wrong passphrase (AES-GCM's tag tells them apart from a good file, not from each other)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        data = json.loads(blob.decode("utf-8"))
        kdf = data["kdf"]
        if data.get("format") != BUNDLE_FORMAT or kdf.get("name") != "scrypt":
            raise ValueError
        if (kdf["n"], kdf["r"], kdf["p"]) != (SCRYPT_N, SCRYPT_R, SCRYPT_P):
            raise ValueError  # never let a file choose a cost that exhausts memory
        salt, nonce = base64.b64decode(kdf["salt"], validate=True), base64.b64decode(data["nonce"], validate=True)
        sealed = base64.b64decode(data["ciphertext"], validate=True)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError):
        raise InputError(f"not an attendant secrets bundle ({BUNDLE_FORMAT})") from None
    try:
        plain = AESGCM(_bundle_key(passphrase, salt)).decrypt(nonce, sealed, BUNDLE_FORMAT.encode())
    except (InvalidTag, ValueError):
        raise InputError("wrong passphrase, or the bundle is damaged: nothing was installed") from None
    inner = json.loads(plain)
    return (parse_ticket_keys(json.dumps(inner["ticket"]), Path("<bundle>")),
            parse_data_keys(json.dumps(inner["data"]), Path("<bundle>")))


def import_bundle(blob: bytes, passphrase: str, *, replace: bool = False) -> tuple[TicketKeys, DataKeys]:
    """Install the secrets of an exported bundle on this booth (both files, mode 0600).

    Refuses (:class:`~attendant.core.errors.Refused`) to overwrite existing
    secrets that differ unless ``replace``: installing another site's secret
    over a working one would refuse its tickets and hide its data.
    """
    from attendant.core.errors import Refused

    ticket, data = read_bundle(blob, passphrase)
    if not replace:
        for loader, new, what in ((load_ticket_keys, ticket, "ticket secret"), (load_data_keys, data, "data keys")):
            try:
                old = loader()
            except SecretMissing:
                continue
            except SecretUnreadable:
                continue  # a damaged file is what an import repairs
            if old.to_json() != new.to_json() and not _extends(old, new):
                raise Refused(f"this booth already has a different {what}: give --replace to install the "
                              "bundle's over it")
    save_ticket_keys(ticket)
    save_data_keys(data)
    return ticket, data


def _extends(old, new) -> bool:
    """True when ``new`` holds every key of ``old`` unchanged (the same site, rotated since)."""
    return all(new.keys.get(kid) == key for kid, key in old.keys.items()) and \
        getattr(old, "index_key", None) == getattr(new, "index_key", None)
