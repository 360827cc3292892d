"""GET /v1/report/daily: an account's figures per UTC day."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskd.core.clock import DAY_MS
from riskd.pnl.daily import DayFigures
from tests.kit.gateway import FakeBackend, serving

ACCOUNTS = ("main", "spare")


async def test_the_ledgers_report_is_answered() -> None:
    backend = FakeBackend(ACCOUNTS)
    amounts = (Decimal("5.50"), Decimal("-0.25"), Decimal("-1"))
    backend.daily_rows["main"] = [DayFigures("2026-12-03", "", "USDT", *amounts, 3, 1, 1, "ETH")]
    async with serving(backend, accounts=ACCOUNTS) as gateway:
        status, _, answer = await gateway.call("GET", "/v1/report/daily?account=main&by=symbol")
    assert status == 200
    assert backend.calls == [("daily_report", ("main", "symbol", 30))]
    assert (answer["account"], answer["by"], answer["days"]) == ("main", "symbol", 30)
    assert answer["start_ms"] % DAY_MS == 0 and answer["end_ms"] - answer["start_ms"] > 29 * DAY_MS
    assert answer["rows"] == [
        {
            "day": "2026-12-03",
            "key": "",
            "asset": "USDT",
            "realized_pnl": "5.5",
            "commission": "-0.25",
            "funding": "-1",
            "net": "4.25",
            "trades": 3,
            "wins": 1,
            "losses": 1,
            "win_rate": "0.5",
            "worst_symbol": "ETH",
        }
    ]


async def test_totals_only_over_30_days_by_default() -> None:
    async with serving() as gateway:
        status, _, answer = await gateway.call("GET", "/v1/report/daily")
        await gateway.call("GET", "/v1/report/daily?days=366&by=robot")
    assert (status, answer["by"], answer["days"], answer["rows"]) == (200, None, 30, [])
    assert gateway.backend.calls == [
        ("daily_report", ("main", None, 30)),
        ("daily_report", ("main", "robot", 366)),
    ]


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("?account=main&by=desk", 400, "by: must be robot or symbol, not 'desk'"),
        ("?account=main&by=", 400, "by: must be robot or symbol, not ''"),
        ("?account=main&days=0", 400, "days: must be a number from 1 to 366, not '0'"),
        ("?account=main&days=367", 400, "days: must be a number from 1 to 366"),
        ("?account=main&days=1.5", 400, "days: must be a number from 1 to 366"),
        ("?account=main&days=%D9%A3", 400, "days: must be a number from 1 to 366"),
        ("?account=main&days=1&days=2", 400, "days: given more than once"),
        ("?account=other", 404, "account: unknown account 'other'"),
        ("?days=1", 400, "account: required, this gateway serves several"),
        ("?account=main&hours=24", 400, "unknown parameters 'hours'"),
    ],
)
async def test_bad_queries_are_refused_naming_the_parameter(
    query: str, status: int, error: str
) -> None:
    async with serving(accounts=ACCOUNTS) as gateway:
        answered, _, answer = await gateway.call("GET", f"/v1/report/daily{query}")
    assert (answered, answer["error"][: len(error)]) == (status, error)
    assert gateway.backend.calls == []


async def test_what_the_ledger_refuses_is_refused_not_a_failure() -> None:
    backend = FakeBackend(ACCOUNTS)
    backend.fail["daily_report"] = ValueError("days: x")
    async with serving(backend, accounts=ACCOUNTS) as gateway:
        answered, _, answer = await gateway.call("GET", "/v1/report/daily?account=main")
    assert (answered, answer) == (400, {"error": "days: x"})
