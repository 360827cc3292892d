import pytest
from sqlalchemy import Engine, inspect, select, update

from riskd.store.schema import SCHEMA_VERSION, SchemaVersionError, init_schema, schema_meta


def _version_row(engine: Engine) -> tuple[str, int]:
    with engine.connect() as connection:
        row = connection.execute(
            select(schema_meta.c.value, schema_meta.c.updated_at_ms).where(
                schema_meta.c.key == "schema_version"
            )
        ).one()
    return row.value, row.updated_at_ms


def test_creates_the_tables_and_records_the_version(sql_engine: Engine) -> None:
    assert init_schema(sql_engine, now_ms=1_700_000_000_000) == ["schema_meta"]

    assert "schema_meta" in inspect(sql_engine).get_table_names()
    assert _version_row(sql_engine) == (str(SCHEMA_VERSION), 1_700_000_000_000)


def test_is_idempotent(sql_engine: Engine) -> None:
    init_schema(sql_engine, now_ms=1_000)

    assert init_schema(sql_engine, now_ms=2_000) == []
    assert _version_row(sql_engine) == (str(SCHEMA_VERSION), 1_000)


def test_refuses_a_database_of_another_schema_version(sql_engine: Engine) -> None:
    init_schema(sql_engine, now_ms=1_000)
    with sql_engine.begin() as connection:
        connection.execute(update(schema_meta).values(value=str(SCHEMA_VERSION + 1)))

    with pytest.raises(SchemaVersionError, match=f"is {SCHEMA_VERSION + 1}, this riskd uses 1"):
        init_schema(sql_engine, now_ms=2_000)
