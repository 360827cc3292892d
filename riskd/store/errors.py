"""Database errors told apart and said in one line, without importing SQLAlchemy.

A process that has not imported SQLAlchemy cannot have raised one of its errors, so the base
job loop need not import it (~0.1 s of CPU and ~13 MiB): an actor that opens no database and
looks up none that does (the PositionBook) never loads it. (Ray's ``get_actor`` imports the
module of the actor it looks up, so jobs that report to the Alerter load it at run time.)
"""

from __future__ import annotations

import sys


def is_database_error(exc: BaseException) -> bool:
    """Whether *exc* is one of SQLAlchemy's errors (a failing database)."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.SQLAlchemyError)


def error_line(exc: Exception) -> str:
    """*exc* in one line for a status: its class and message. A database error's message is
    the driver's first line (``OperationalError: database or disk is full``): SQLAlchemy's own
    adds the statement, its parameters (the account's figures) and a link, each on a line."""
    if not is_database_error(exc):
        return f"{type(exc).__name__}: {exc}"
    cause = getattr(exc, "orig", None) or exc  # a DBAPIError wraps the driver's error
    lines = str(cause).splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"
