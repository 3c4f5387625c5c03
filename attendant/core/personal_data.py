"""Personal data at rest: plates and holder names encrypted, found again through keyed blind indexes.

What is stored, per column (migration ``0012_personal_data``):

- ``parking_session.plate``, ``iou.plate``, ``pass_holder.plate``,
  ``pass_holder.holder_name``: AES-256-GCM ciphertext (the ``cryptography``
  library), written ``"<key id>:<base64url(nonce 12 bytes | ciphertext | tag)>"``
  by :meth:`PersonalData.seal`; the key id names the key of
  ``data-keys.json`` (:mod:`attendant.keyfiles`) it was sealed with, so a key
  rotation can re-encrypt row by row while older keys still read.
- ``parking_session.plate_hash``, ``iou.plate_hash``, ``pass_holder.plate_hash``
  and ``vehicle.plate``: the exact blind index of the normalised plate,
  HMAC-SHA256(index key, ``"plate:" + plate``) cut to 128 bits in hex
  (:meth:`PersonalData.plate_index`): equality lookups (exit by plate,
  anti-passback's unique index, IOUs of a plate, passes) run on it.
- ``parking_session.plate_fold``: the blind index of the confusable-folded
  plate (:func:`attendant.core.plate_match.canonical_form`, O/0, B/8...):
  the tolerant lookup of a misread plate runs on it.
- ``parking_session.code``: HMAC-SHA256(index key, ``"ticket:" + code``) in
  hex (:meth:`PersonalData.code_hash`), not the code: a copy of the database
  alone yields no code that opens a gate. An exit checks the presented code's
  signature and then this hash.
- ``session_concession.badge``: the number of the badge a concession was
  granted on (a disabled driver's Blue Badge), AES-256-GCM ciphertext as
  above; never in an audit event (which names the concession only).
- Audit events name a plate by its blind index (``plate_ref``), never in clear:
  the audit log is append-only, so what it holds must survive the retention rule.

The index key is separate from the encryption keys and is not rotated by
``attendant keys rotate`` (indexes would have to be recomputed everywhere at
once). Keys never enter the database; the objects built from them (one
:class:`~cryptography.hazmat.primitives.ciphers.aead.AESGCM` per key) are
built once per process (:func:`site_data`).
"""

from __future__ import annotations

import base64
import hmac
import os
import threading
import time

from attendant.core.errors import AttendantError

#: The columns that hold ciphertext: table -> columns (what ``keys rotate`` and the migration walk).
ENCRYPTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "parking_session": ("plate",),
    "iou": ("plate",),
    "pass_holder": ("plate", "holder_name"),
    "session_concession": ("badge",),
    "account": ("holder",),  # every holder name, person or company (attendant/core/accounts.py)
    "plate_list_entry": ("plate",),  # deny and allow lists (attendant/core/plate_lists.py)
    "reservation": ("plate", "holder_name", "holder_contact"),  # 0020_reserve
}
_AAD = b"attendant-personal-data/1"
INDEX_CHARS = 32  # 128 bits of HMAC-SHA256 in hex


class PersonalDataError(AttendantError):
    """A ciphertext that this booth's keys cannot open (another site's keys, a damaged value)."""


class PersonalData:
    """Seals and opens personal data, and computes blind indexes, with one set of data keys.

    ``keys``: a :class:`attendant.keyfiles.DataKeys` (AES keys by id, the
    current id, the index key). ``follow``: the key file these came from; a
    booth built on it looks at the file again at most once a second before
    sealing, and at once when it meets a key id it does not have, so a
    long-running console takes up ``attendant keys rotate`` run beside it.
    Thread-safe (a reload swaps whole objects).
    """

    def __init__(self, keys, *, follow=None) -> None:
        self._follow = follow
        self._stamp = _stamp(follow)
        self._next_check = time.monotonic() + 1.0
        self._install(keys)

    def _install(self, keys) -> None:
        built = getattr(self, "_built", None)
        # keys retired from the file still read what this process holds
        self._retired = {**getattr(self, "_retired", {}), **(built[0] if built else {})}
        self.keys = keys
        self.current = keys.current
        self._index_key = keys.index_key
        self._code_hashes: dict[str, str] = {}
        self._built = None  # (AESGCM by key id, (prefix, sealing AESGCM)): made on first use

    def _crypto(self):
        """The AES-GCM objects, made once (``cryptography`` is imported only by a command that seals or opens:
        ``attendant status`` never pays for it)."""
        built = self._built
        if built is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            keys = self.keys
            aead = {kid: AESGCM(key) for kid, key in keys.keys.items()}
            for kid, old in self._retired.items():
                aead.setdefault(kid, old)
            built = self._built = (aead, (f"{keys.current}:", aead[keys.current]))
        return built

    def _reload(self, force: bool = False) -> None:
        """Take up a changed key file (same index key only: the blind indexes must not move)."""
        self._next_check = time.monotonic() + 1.0
        stamp = _stamp(self._follow)
        if stamp == self._stamp and not force:
            return
        from attendant import keyfiles

        try:
            keys = keyfiles.load_data_keys()
        except AttendantError:
            return  # the file is being replaced or was removed: keep the keys in hand
        if keys.index_key == self._index_key:
            self._stamp = stamp
            self._install(keys)

    # ------------------------------------------------------------- encryption
    def seal(self, text: str | None) -> str | None:
        """``text`` encrypted under the current key (None stays None); a fresh random nonce each time."""
        if text is None:
            return None
        if self._follow is not None and time.monotonic() >= self._next_check:
            self._reload()
        prefix, aead = self._crypto()[1]
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, text.encode(), _AAD)
        return prefix + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, token: str | None) -> str | None:
        """The text of a value :meth:`seal` wrote (None stays None).

        :raises PersonalDataError: a key id this booth does not have, or a value
            that fails authentication (damaged, or sealed under other keys).
        """
        if token is None:
            return None
        kid, sep, body = token.partition(":")
        aead = self._crypto()[0].get(kid)
        if aead is None and self._follow is not None:
            self._reload(force=True)
            aead = self._crypto()[0].get(kid)
        if aead is None or not sep:
            raise PersonalDataError(
                f"personal data sealed under data key {kid[:6]!r}, which this booth does not have: install the "
                "site's secrets (`attendant secret import FILE`)")
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.urlsafe_b64decode(body)
            return aead.decrypt(raw[:12], raw[12:], _AAD).decode()
        except (InvalidTag, ValueError):
            raise PersonalDataError("a stored plate or name does not open with this booth's data keys "
                                    "(damaged, or another site's keys)") from None

    def key_of(self, token: str | None) -> str | None:
        """The key id a sealed value names (None for None)."""
        return None if token is None else token.partition(":")[0]

    def reseal(self, token: str | None) -> str | None:
        """``token`` re-encrypted under the current key (unchanged if it already is, or None)."""
        if token is None or token.startswith(f"{self.current}:"):
            return token
        return self.seal(self.open(token))

    # ------------------------------------------------------------- blind indexes
    def _mac(self, label: bytes, text: str) -> str:
        return hmac.digest(self._index_key, label + text.encode(), "sha256")[:16].hex()

    def plate_index(self, plate: str | None) -> str | None:
        """The exact blind index of a normalised plate (None stays None)."""
        return None if plate is None else self._mac(b"plate:", plate)

    def plate_fold_index(self, plate: str | None) -> str | None:
        """The blind index of a normalised plate with its confusable characters folded."""
        if plate is None:
            return None
        from attendant.core.plate_match import canonical_form

        return self._mac(b"fold:", canonical_form(plate))

    def code_hash(self, code: str) -> str:
        """The stored form of a ticket code (upper case, no surrounding space): its keyed hash.

        Remembered for the last few thousand codes (an exit looks its code up several times)."""
        found = self._code_hashes.get(code)
        if found is None:
            found = hmac.digest(self._index_key, b"ticket:" + code.strip().upper().encode(), "sha256").hex()
            if len(self._code_hashes) >= 4096:
                self._code_hashes.clear()
            self._code_hashes[code] = found
        return found

    def plate_columns(self, plate: str | None) -> dict[str, str | None]:
        """``plate``, ``plate_hash``, ``plate_fold`` as a session row stores them."""
        return {"plate": self.seal(plate), "plate_hash": self.plate_index(plate),
                "plate_fold": self.plate_fold_index(plate)}


def _stamp(path) -> tuple | None:
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


_SITE: dict[tuple, PersonalData] = {}
_SITE_LOCK = threading.Lock()


def site_data() -> PersonalData:
    """The :class:`PersonalData` of this booth's key file (:func:`attendant.keyfiles.load_data_keys`),
    built once per file version (path and modification time) per process.

    :raises attendant.keyfiles.SecretMissing: no key file (install the site's secrets).
    :raises attendant.keyfiles.SecretUnreadable: an empty or damaged one.
    """
    from attendant import keyfiles

    path = keyfiles.data_keys_path()
    key = (str(path), _stamp(path))
    with _SITE_LOCK:
        found = _SITE.get(key)
        if found is None:
            found = PersonalData(keyfiles.load_data_keys(), follow=path)
            _SITE.clear()
            _SITE[key] = found
        return found


# ------------------------------------------------------------------ key rotation
ROTATE_BATCH = 500


def rotate_data_keys(engine, *, actor: str) -> dict:
    """``attendant keys rotate``: a new encryption key becomes current, every sealed value is re-encrypted
    under it, then the older keys leave the key file.

    Steps, each safe to interrupt: (1) the key file gains the new key, made
    current (older keys stay for reading); (2) each column of
    :data:`ENCRYPTED_COLUMNS` is re-sealed in transactions of
    :data:`ROTATE_BATCH` rows; (3) once no value names an older key, they are
    dropped from the file. A run that finds a rotation unfinished (more than
    one key in the file) finishes it instead of adding another key. The blind
    index key is not rotated. One audit event ``keys.rotate`` (no facility).

    Returns ``{"key": new id, "resealed": {table.column: n}, "retired": [ids], "kept": [ids]}``; ``kept``
    lists older keys still named by a value (another booth wrote with them meanwhile: run it again).
    Other booths need the new key file (``attendant secret export`` / ``import``).
    """
    from sqlalchemy import select, update

    from attendant import keyfiles
    from attendant.core import audit
    from attendant.core.clock import utc_now
    from db.models import TABLES

    keys = keyfiles.load_data_keys()
    if len(keys.keys) == 1:
        kid = str(max(int(k) for k in keys.keys) + 1)
        keys = keyfiles.DataKeys({**keys.keys, kid: os.urandom(32)}, kid, keys.index_key)
        keyfiles.save_data_keys(keys)
    pd = PersonalData(keys)
    prefix = f"{keys.current}:"
    resealed: dict[str, int] = {}
    for table_name, columns in ENCRYPTED_COLUMNS.items():
        table = TABLES.tables[table_name]
        for column in columns:
            col = table.c[column]
            done, last_id = 0, 0
            while True:
                with engine.begin() as conn:
                    rows = conn.execute(select(table.c.id, col).where(
                        table.c.id > last_id, col.is_not(None), ~col.startswith(prefix, autoescape=True))
                        .order_by(table.c.id).limit(ROTATE_BATCH)).all()
                    for row in rows:
                        conn.execute(update(table).where(table.c.id == row.id, col == row[1])
                                     .values({column: pd.reseal(row[1])}))
                if not rows:
                    break
                done += len(rows)
                last_id = rows[-1].id
            resealed[f"{table_name}.{column}"] = done
    kept = set()
    with engine.connect() as conn:
        for table_name, columns in ENCRYPTED_COLUMNS.items():
            table = TABLES.tables[table_name]
            for column in columns:
                col = table.c[column]
                for (value,) in conn.execute(select(col).where(col.is_not(None),
                                                               ~col.startswith(prefix, autoescape=True))):
                    kept.add(pd.key_of(value))
    retired = sorted(k for k in keys.keys if k != keys.current and k not in kept)
    if retired:
        keyfiles.save_data_keys(keyfiles.DataKeys({k: v for k, v in keys.keys.items() if k not in retired},
                                                  keys.current, keys.index_key))
    now = utc_now()
    with engine.begin() as conn:
        audit.record(conn, facility_id=None, actor=actor, action="keys.rotate", entity="data_keys", entity_id=None,
                     details={"key": keys.current, "resealed": resealed, "retired": retired,
                              "kept": sorted(kept)}, effective_at=now, now=now)
    return {"key": keys.current, "resealed": resealed, "retired": retired, "kept": sorted(kept)}
