"""Engines for SQLite and MySQL/MariaDB, and a thread pool running units of work for asyncio.

SQLAlchemy 2.1 without greenlet has no async engine, so asyncio code hands sync units of work
to :class:`SqlRunner`, which runs them on threads of its own.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError

P = ParamSpec("P")
T = TypeVar("T")
_READ_ONLY = "riskd_read_only"  # an execution option: the unit of work only reads


def make_engine(url: str) -> Engine:
    """Create a sync engine for *url*.

    SQLite gets WAL, enforced foreign keys and transactions that take the write lock when they
    begin; MySQL/MariaDB gets utf8mb4. Server databases ping connections before use.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        # SQLAlchemy's message quotes the URL, password included.
        raise ValueError("not a valid SQLAlchemy database URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(parsed)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    if backend in ("mysql", "mariadb"):
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return create_engine(parsed, pool_pre_ping=True)


def _configure_sqlite(dbapi_connection: Any, _connection_record: Any) -> None:
    # Stop pysqlite from beginning transactions itself; _begin_immediate does it instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # A deferred transaction that reads and then writes fails at once with "database is
    # locked" if another process wrote in between; an immediate one waits for the lock instead.
    # A read (SqlRunner.read) takes no lock: in WAL, readers never wait for the writer.
    read_only = connection.get_execution_options().get(_READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class SqlRunner:
    """Runs units of work on a dedicated thread pool, each in a transaction of its own.

    The runner does not own its engine: closing the runner leaves the engine open.

    A unit of work is a sync callable whose first argument is a Connection; its transaction
    commits when it returns and rolls back when it raises. A unit cancelled before it starts
    never runs; once started, it runs to the end whatever happens to the awaiting task.
    """

    def __init__(self, engine: Engine, *, max_workers: int = 1) -> None:
        self._engine = engine
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="riskd-sql")

    async def run(
        self,
        fn: Callable[Concatenate[Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn(connection, *args, **kwargs)`` in a transaction and return its result."""
        unit = functools.partial(self._in_transaction, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, unit)

    async def read(
        self,
        fn: Callable[Concatenate[Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn(connection, *args, **kwargs)``, which only reads, and return its result.

        On SQLite it takes no write lock, so it neither waits for the writing processes nor
        makes them wait; *fn* must not write.
        """
        unit = functools.partial(self._in_read, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, unit)

    def close(self) -> None:
        """Finish the units of work already submitted, then stop the threads."""
        self._executor.shutdown(wait=True)

    def _in_transaction(
        self,
        fn: Callable[Concatenate[Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        with self._engine.begin() as connection:
            return fn(connection, *args, **kwargs)

    def _in_read(
        self,
        fn: Callable[Concatenate[Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        with self._engine.connect() as connection:
            connection.execution_options(**{_READ_ONLY: True})
            with connection.begin():
                return fn(connection, *args, **kwargs)
