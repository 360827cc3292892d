"""Dialect-specific data-manipulation statements."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import mysql, sqlite

T = TypeVar("T")


def insert_ignore(table: Table, rows: Sequence[Mapping[str, Any]], dialect: str) -> Insert:
    """An INSERT of *rows* that skips each row whose primary or unique key is already stored.

    Stored rows are left as they are. *dialect* is the engine's ``dialect.name``.
    """
    if not rows:
        raise ValueError("insert_ignore needs at least one row")
    if dialect == "sqlite":
        return sqlite.insert(table).values(rows).on_conflict_do_nothing()
    if dialect in ("mysql", "mariadb"):
        # Not INSERT IGNORE: that would also demote NOT NULL and truncation errors to warnings.
        key = table.primary_key.columns[0]
        return mysql.insert(table).values(rows).on_duplicate_key_update({key.name: key})
    raise ValueError(f"insert_ignore does not support the {dialect!r} dialect")


def from_row(cls: type[T], row: Mapping[str, Any]) -> T:
    """The dataclass *cls* from a result row whose columns include one per field (by name)."""
    return cls(**{field.name: row[field.name] for field in dataclasses.fields(cls)})  # type: ignore[arg-type]
