from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import Engine, MetaData, Table, insert, inspect, select, update

from riskd.store.schema import (
    SCHEMA_VERSION,
    SchemaVersionError,
    init_schema,
    locks,
    metadata,
    schema_meta,
    symbols,
)

TABLES = sorted(
    [
        "alert_groups",
        "alert_once",
        "alert_outbox",
        "alerts",
        "balance_snapshots",
        "banlist_versions",
        "fills",
        "flattens",
        "income",
        "klines",
        "ledger_cursors",
        "lock_events",
        "locks",
        "order_decisions",
        "orders",
        "position_snapshots",
        "schema_meta",
        "silences",
        "symbols",
        "trading_states",
    ]
)


def _version_row(engine: Engine) -> tuple[str, int]:
    with engine.connect() as connection:
        row = connection.execute(
            select(schema_meta.c.value, schema_meta.c.updated_at_ms).where(
                schema_meta.c.key == "schema_version"
            )
        ).one()
    return row.value, row.updated_at_ms


def test_creates_the_tables_and_records_the_version(sql_engine: Engine) -> None:
    assert sorted(init_schema(sql_engine, now_ms=1_700_000_000_000)) == TABLES

    assert sorted(inspect(sql_engine).get_table_names()) == TABLES
    assert _version_row(sql_engine) == (str(SCHEMA_VERSION), 1_700_000_000_000)


def test_is_idempotent(sql_engine: Engine) -> None:
    init_schema(sql_engine, now_ms=1_000)

    assert init_schema(sql_engine, now_ms=2_000) == []
    assert _version_row(sql_engine) == (str(SCHEMA_VERSION), 1_000)


def test_processes_starting_together_on_a_fresh_database_each_find_the_schema_ready(
    sql_engine: Engine,
) -> None:
    # Every actor that stores rows runs init_schema as it starts; on MySQL each CREATE TABLE
    # commits at once, and unserialized the later ones failed with 1050 "already exists".
    with ThreadPoolExecutor(6) as pool:
        created = list(pool.map(lambda n: init_schema(sql_engine, now_ms=n), range(6)))

    assert sorted(table for tables in created for table in tables) == TABLES
    assert sorted(inspect(sql_engine).get_table_names()) == TABLES


def test_refuses_a_database_of_another_schema_version(sql_engine: Engine) -> None:
    init_schema(sql_engine, now_ms=1_000)
    with sql_engine.begin() as connection:
        connection.execute(update(schema_meta).values(value=str(SCHEMA_VERSION + 1)))

    with pytest.raises(
        SchemaVersionError, match=f"is {SCHEMA_VERSION + 1}, this riskd uses {SCHEMA_VERSION}"
    ):
        init_schema(sql_engine, now_ms=2_000)


def test_upgrades_a_version_1_database_by_adding_the_new_tables(sql_engine: Engine) -> None:
    schema_meta.create(sql_engine)
    with sql_engine.begin() as connection:
        connection.execute(
            insert(schema_meta).values(key="schema_version", value="1", updated_at_ms=1_000)
        )

    created = init_schema(sql_engine, now_ms=2_000)

    assert sorted(created) == [t for t in TABLES if t != "schema_meta"]
    assert _version_row(sql_engine) == (str(SCHEMA_VERSION), 2_000)


ADDED_IN = {
    3: ["alert_groups", "alert_outbox", "alerts", "balance_snapshots", "silences"],
    4: ["klines"],
    5: ["order_decisions"],
    6: ["flattens"],
    7: ["alert_once"],
}


@pytest.mark.parametrize("version", [2, 3, 4, 5, 6])
def test_upgrades_a_database_by_adding_the_tables_of_later_versions(
    sql_engine: Engine, version: int
) -> None:
    later = sorted(t for v, tables in ADDED_IN.items() if v > version for t in tables)
    existing = [t for t in metadata.sorted_tables if t.name not in later]
    metadata.create_all(sql_engine, tables=existing)
    with sql_engine.begin() as connection:
        connection.execute(
            insert(schema_meta).values(key="schema_version", value=str(version), updated_at_ms=1)
        )

    assert sorted(init_schema(sql_engine, now_ms=2_000)) == later
    assert _version_row(sql_engine) == (str(SCHEMA_VERSION), 2_000)


@pytest.mark.parametrize("text", ["0.000000000000000001", "-123456789012345678.5", "60000.10"])
def test_money_round_trips_exactly(sql_engine: Engine, text: str) -> None:
    init_schema(sql_engine, now_ms=1_000)
    row = {
        "symbol": "BTCUSDT",
        "status": "TRADING",
        "tick_size": Decimal(text),
        "step_size": Decimal("0.001"),
        "min_qty": Decimal("0.001"),
        "min_notional": Decimal("100"),
        "updated_at_ms": 1,
    }
    with sql_engine.begin() as connection:
        connection.execute(insert(symbols).values(row))
        stored = connection.scalar(select(symbols.c.tick_size))
    assert stored == Decimal(text)


def test_money_refuses_a_float(sql_engine: Engine) -> None:
    init_schema(sql_engine, now_ms=1_000)
    row = {"symbol": "X", "status": "T", "tick_size": 0.1, "step_size": Decimal(1)}
    row |= {"min_qty": Decimal(1), "min_notional": Decimal(1), "updated_at_ms": 1}
    with (
        pytest.raises(Exception, match="Money takes a Decimal, not float"),
        sql_engine.begin() as connection,
    ):
        connection.execute(insert(symbols).values(row))


def test_every_table_is_created_with_the_binary_collation_options() -> None:
    assert all(t.kwargs.get("mysql_collate") == "utf8mb4_bin" for t in metadata.sorted_tables)


def test_upgrades_a_version_5_database_by_adding_the_robot_column_to_its_locks(
    sql_engine: Engine,
) -> None:
    version_5 = MetaData()
    for table in metadata.sorted_tables:
        columns = [column._copy() for column in table.columns if column is not locks.c.robot]
        Table(table.name, version_5, *columns)
    version_5.create_all(sql_engine)
    lock = {"account": "main", "symbol": "BTCUSDT", "side": "both", "reason_code": "op"}
    lock |= {"reason_text": "kept", "source": "operator:ann", "created_ms": 1, "active": True}
    with sql_engine.begin() as connection:
        connection.execute(insert(version_5.tables["locks"]).values(lock))
        connection.execute(
            insert(schema_meta).values(key="schema_version", value="5", updated_at_ms=1)
        )

    init_schema(sql_engine, now_ms=2_000)

    with sql_engine.connect() as connection:
        stored = connection.execute(select(locks.c.reason_text, locks.c.robot)).one()
    assert tuple(stored) == ("kept", "")
    assert _version_row(sql_engine) == (str(SCHEMA_VERSION), 2_000)
