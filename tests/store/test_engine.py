import asyncio
import threading
import time

import pytest
from sqlalchemy import (
    URL,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from riskd.store.engine import SqlRunner, make_engine
from riskd.store.errors import error_line

tables = MetaData()
parent = Table("parent", tables, Column("id", Integer, primary_key=True))
child = Table(
    "child",
    tables,
    Column("id", Integer, primary_key=True),
    Column("parent_id", Integer, ForeignKey("parent.id"), nullable=False),
)
note = Table(
    "note",
    tables,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("text", String(32), nullable=False),
)


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    tables.create_all(sql_engine)
    return sql_engine


def _count(connection: Connection) -> int:
    return connection.scalar(select(func.count()).select_from(note))


def test_rejects_a_malformed_url_without_quoting_it() -> None:
    with pytest.raises(ValueError) as excinfo:
        make_engine("mysql+pymysql//root:hunter2@db/riskd")
    assert "hunter2" not in str(excinfo.value)


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(child).values(id=1, parent_id=42))


def test_four_byte_utf8_round_trips(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(insert(note).values(id=1, text="止损 🚀"))
    with engine.connect() as connection:
        assert connection.scalar(select(note.c.text)) == "止损 🚀"


def test_mysql_connections_use_utf8mb4_whatever_the_url_says(mysql_database_url: URL) -> None:
    url = mysql_database_url.update_query_dict({"charset": "utf8"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            charset = connection.exec_driver_sql("SELECT @@character_set_client").scalar()
    finally:
        engine.dispose()
    assert charset == "utf8mb4"


def test_mysql_engine_replaces_a_connection_the_server_dropped(mysql_engine: Engine) -> None:
    with mysql_engine.connect() as connection:
        dropped = connection.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
    killer = make_engine(mysql_engine.url.render_as_string(hide_password=False))
    try:
        with killer.connect() as connection:
            connection.exec_driver_sql(f"KILL CONNECTION {dropped}")
    finally:
        killer.dispose()

    with mysql_engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT CONNECTION_ID()").scalar() != dropped


def test_an_sql_error_is_one_line_without_the_statement_or_its_figures(engine: Engine) -> None:
    with pytest.raises(IntegrityError) as raised, engine.begin() as connection:
        connection.execute(insert(note).values(id=1, text="1234.5678"))
        connection.execute(insert(note).values(id=1, text="8765.4321"))

    line = error_line(raised.value)
    assert line.startswith("IntegrityError: ")
    assert "\n" not in line
    assert not any(leak in line for leak in ("INSERT", "[SQL", "8765.4321", "sqlalche.me"))


def test_a_full_sqlite_database_is_named_in_one_line(sqlite_engine: Engine) -> None:
    tables.create_all(sqlite_engine)
    with pytest.raises(OperationalError) as raised, sqlite_engine.begin() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
        connection.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
        connection.execute(insert(note), [{"id": i, "text": "x" * 1_000} for i in range(100)])

    assert error_line(raised.value) == "OperationalError: database or disk is full"


def test_a_stopped_mysql_server_is_named_in_one_line() -> None:
    engine = make_engine("mysql+pymysql://root@127.0.0.1:9/riskd")  # nothing listens on 9
    try:
        with pytest.raises(OperationalError) as raised:
            engine.connect()
    finally:
        engine.dispose()

    line = error_line(raised.value)
    assert line.startswith("OperationalError: (2003, \"Can't connect to MySQL server on ")
    assert "\n" not in line


def test_sqlite_uses_wal(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_sqlite_transaction_keeps_other_writers_out_from_its_start(sqlite_engine: Engine) -> None:
    tables.create_all(sqlite_engine)
    may_write = threading.Event()

    def other_writer() -> None:
        may_write.wait()
        with sqlite_engine.begin() as connection:
            connection.execute(insert(note).values(id=2, text="other"))

    thread = threading.Thread(target=other_writer)
    thread.start()
    with sqlite_engine.begin() as connection:
        seen = _count(connection)
        may_write.set()
        time.sleep(0.2)
        assert _count(connection) == seen, "another writer got in between a read and a write"
        connection.execute(insert(note).values(id=1, text="mine"))
    thread.join()

    with sqlite_engine.connect() as connection:
        assert connection.scalars(select(note.c.text).order_by(note.c.id)).all() == [
            "mine",
            "other",
        ]


def _add_note(connection: Connection, note_id: int, *, text: str) -> str:
    connection.execute(insert(note).values(id=note_id, text=text))
    return threading.current_thread().name


async def test_runner_commits_a_unit_of_work_on_its_own_thread(engine: Engine) -> None:
    runner = SqlRunner(engine)
    try:
        thread_name = await runner.run(_add_note, 1, text="hello")
    finally:
        runner.close()

    assert thread_name.startswith("riskd-sql")
    with engine.connect() as connection:
        assert connection.scalar(select(note.c.text).where(note.c.id == 1)) == "hello"


async def test_runner_rolls_back_a_unit_of_work_that_raises(engine: Engine) -> None:
    def add_then_fail(connection: Connection) -> None:
        _add_note(connection, 1, text="doomed")
        raise LookupError("unit failed")

    runner = SqlRunner(engine)
    try:
        with pytest.raises(LookupError, match="unit failed"):
            await runner.run(add_then_fail)
    finally:
        runner.close()

    with engine.connect() as connection:
        assert _count(connection) == 0


async def test_runner_close_finishes_submitted_units_then_refuses_more(engine: Engine) -> None:
    def slow_add(connection: Connection) -> None:
        time.sleep(0.1)
        _add_note(connection, 1, text="late")

    runner = SqlRunner(engine)
    pending = asyncio.ensure_future(runner.run(slow_add))
    await asyncio.sleep(0)  # let the task hand the unit to the pool
    runner.close()

    await pending
    with engine.connect() as connection:
        assert _count(connection) == 1
    with pytest.raises(RuntimeError):
        await runner.run(_add_note, 2, text="refused")


async def test_runner_read_sees_committed_rows_while_another_writer_holds_the_lock(
    engine: Engine,
) -> None:
    """On SQLite a read takes no write lock (a write would wait out the busy timeout and fail
    with "database is locked" here, as the writer commits only after the read returned)."""
    runner = SqlRunner(engine)
    try:
        await runner.run(_add_note, 1, text="committed")
        with engine.begin() as writer:
            writer.execute(insert(note).values(id=2, text="uncommitted"))
            assert await runner.read(_count) == 1
        assert await runner.read(_count) == 2
    finally:
        runner.close()
