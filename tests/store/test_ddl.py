from pathlib import Path

import pytest
from sqlalchemy import Engine

from riskd.store import ddl
from riskd.store.schema import init_schema

DDL_FILE = Path(__file__).resolve().parents[2] / "sql" / "schema.mysql.sql"


def test_checked_in_ddl_is_current() -> None:
    assert DDL_FILE.read_text(encoding="utf-8") == ddl.mysql_ddl(), (
        "sql/schema.mysql.sql is stale: run `python -m riskd.store.ddl > sql/schema.mysql.sql`"
    )


def test_main_prints_the_ddl(capsys: pytest.CaptureFixture[str]) -> None:
    ddl.main()

    assert capsys.readouterr().out == ddl.mysql_ddl()


def test_ddl_builds_the_schema_riskd_expects_on_mysql(mysql_engine: Engine) -> None:
    statements = [s for s in ddl.mysql_ddl().split(";") if s.strip()]
    with mysql_engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)

    assert init_schema(mysql_engine, now_ms=1_000) == []
