"""Shared fixtures.

SQL: a test taking ``sql_engine`` runs on SQLite and on MySQL/MariaDB. The MySQL run uses a
database created for the session on the server at ``RISKD_TEST_MYSQL_URL``; it is skipped when
that variable is unset or the server unreachable, unless ``RISKD_REQUIRE_MYSQL=1`` makes that
a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import URL, Engine, MetaData
from sqlalchemy.exc import DBAPIError

from riskd.store.engine import make_engine

pytest_plugins = ["tests.kit.sim", "tests.kit.browser"]

MYSQL_URL_VAR = "RISKD_TEST_MYSQL_URL"
REQUIRE_MYSQL_VAR = "RISKD_REQUIRE_MYSQL"


def _mysql_unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_MYSQL_VAR) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_MYSQL_VAR}=1", pytrace=False)
    pytest.skip(reason)


def _create_database(server: Engine, name: str) -> str | None:
    """Create database *name*; return why that failed, if it did."""
    try:
        with server.begin() as connection:
            connection.exec_driver_sql(
                f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )
    except DBAPIError as exc:
        return str(exc.orig)
    return None


@pytest.fixture(scope="session")
def mysql_database_url() -> Iterator[URL]:
    """URL of a database created for this session on the test server, dropped at its end."""
    server_url = os.environ.get(MYSQL_URL_VAR)
    if not server_url:
        _mysql_unavailable(f"{MYSQL_URL_VAR} is not set")
    server = make_engine(server_url)
    name = f"riskd_test_{secrets.token_hex(6)}"
    error = _create_database(server, name)
    if error is not None:
        server.dispose()
        _mysql_unavailable(f"cannot create a database on {server.url!r}: {error}")
    yield server.url.set(database=name)
    with server.begin() as connection:
        connection.exec_driver_sql(f"DROP DATABASE {name}")
    server.dispose()


@pytest.fixture
def mysql_engine(mysql_database_url: URL) -> Iterator[Engine]:
    """An engine on the session's MySQL database; tables the test created are dropped after."""
    engine = make_engine(mysql_database_url.render_as_string(hide_password=False))
    yield engine
    leftovers = MetaData()
    leftovers.reflect(engine)
    leftovers.drop_all(engine)
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh SQLite file."""
    engine = make_engine(f"sqlite:///{tmp_path / 'riskd.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def sql_engine(request: pytest.FixtureRequest) -> Engine:
    """An empty database on each backend in turn: SQLite, then MySQL/MariaDB."""
    return request.getfixturevalue(f"{request.param}_engine")
