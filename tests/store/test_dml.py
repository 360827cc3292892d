import pytest
from sqlalchemy import BigInteger, Column, Engine, Integer, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from riskd.store.dml import insert_ignore

tables = MetaData()
booking = Table(
    "booking",
    tables,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("tran_id", BigInteger, nullable=False, unique=True),
    Column("note", String(32), nullable=False),
)


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    tables.create_all(sql_engine)
    return sql_engine


def _book(engine: Engine, *rows: tuple[int, int, str]) -> None:
    values = [{"id": i, "tran_id": t, "note": n} for i, t, n in rows]
    with engine.begin() as connection:
        connection.execute(insert_ignore(booking, values, engine.dialect.name))


def _stored(engine: Engine) -> list[tuple[int, int, str]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(booking).order_by(booking.c.id))]


def test_skips_rows_whose_primary_key_is_stored(engine: Engine) -> None:
    _book(engine, (1, 10, "first"), (2, 20, "second"))
    _book(engine, (1, 11, "replay"), (3, 30, "third"))

    assert _stored(engine) == [(1, 10, "first"), (2, 20, "second"), (3, 30, "third")]


def test_skips_rows_whose_unique_key_is_stored(engine: Engine) -> None:
    big = 2**62  # tranId is int64
    _book(engine, (1, big, "first"))
    _book(engine, (2, big, "replay"), (3, big + 1, "next"))

    assert _stored(engine) == [(1, big, "first"), (3, big + 1, "next")]


def test_still_rejects_rows_that_break_other_constraints(engine: Engine) -> None:
    row = {"id": 1, "tran_id": 1, "note": None}
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert_ignore(booking, [row], engine.dialect.name))


def test_refuses_no_rows_and_unknown_dialects() -> None:
    with pytest.raises(ValueError, match="at least one row"):
        insert_ignore(booking, [], "sqlite")
    with pytest.raises(ValueError, match="'postgresql'"):
        insert_ignore(booking, [{"id": 1, "tran_id": 1, "note": "x"}], "postgresql")
