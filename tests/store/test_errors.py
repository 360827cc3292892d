"""Database errors told apart without importing SQLAlchemy."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from riskd.store.errors import error_line, is_database_error
from tests.kit.imports import loaded_by

JOBS_WITHOUT_A_DATABASE = (
    "actors.account_reader",
    "actors.heartbeat",
    "actors.market_hub",
    "actors.market_reader",
    "actors.market_stream",
    "actors.order_reaper",
    "actors.position_book",
    "actors.position_risk_reader",
    "actors.stop_ladder",
    "actors.user_stream",
)


def test_importing_a_job_that_opens_no_database_does_not_load_sqlalchemy() -> None:
    assert loaded_by(JOBS_WITHOUT_A_DATABASE, ["sqlalchemy"]) == []


def test_a_driver_error_is_a_database_error_and_a_plain_one_is_not() -> None:
    failing = OperationalError("INSERT …", {"pnl": "-1.5"}, ConnectionError("server gone\nmore"))
    assert is_database_error(failing)
    assert error_line(failing) == "ConnectionError: server gone"
    assert not is_database_error(ValueError("x"))
    assert error_line(ValueError("bad value")) == "ValueError: bad value"
