"""Column types shared by the tables.

``UTCDateTime`` stores timezone-aware UTC instants on every backend: SQLite has
no timezone-aware type, so values are normalised to UTC on the way in and
tagged UTC on the way out. Naive datetimes are refused (a naive time is a bug:
it is unclear whether it is UTC or facility time).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware ``datetime`` in, aware UTC ``datetime`` out; raises ValueError on naive input."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given for a UTC column")
        value = value.astimezone(UTC)
        # PostgreSQL keeps a timestamptz; SQLite stores the naive UTC wall time.
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(DateTime(timezone=True))
