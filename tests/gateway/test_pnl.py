"""GET /v1/pnl: an account's PnL per robot or per symbol."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskd.pnl.report import PnlRow
from tests.kit.gateway import FakeBackend, robot_tokens, serving

ACCOUNTS = ("main", "spare")
ROBOT_ACCOUNTS = {"alpha": "main", "beta": "spare"}


def _serving(backend: FakeBackend | None = None):
    return serving(
        backend,
        accounts=ACCOUNTS,
        robots=robot_tokens(*ROBOT_ACCOUNTS),
        robot_accounts=ROBOT_ACCOUNTS,
    )


async def test_the_ledgers_report_is_answered() -> None:
    backend = FakeBackend(ACCOUNTS)
    backend.pnl_rows["main"] = [
        PnlRow("BTCUSDT", "USDT", Decimal("5.50"), Decimal("-0.25"), Decimal("-1"))
    ]
    async with _serving(backend) as gateway:
        path = "/v1/pnl?account=main&by=symbol&hours=48&robot=alpha"
        status, _, answer = await gateway.call("GET", path)
    assert status == 200
    assert backend.calls == [("pnl", ("main", "symbol", 48, "alpha"))]
    assert answer["end_ms"] - answer["start_ms"] == 48 * 3_600_000
    assert (answer["account"], answer["by"], answer["robot"]) == ("main", "symbol", "alpha")
    assert answer["rows"] == [
        {
            "key": "BTCUSDT",
            "asset": "USDT",
            "realized_pnl": "5.5",
            "commission": "-0.25",
            "funding": "-1",
            "total": "4.25",
        }
    ]


async def test_every_robot_per_robot_over_a_day_by_default() -> None:
    async with serving(robot_accounts=ROBOT_ACCOUNTS) as gateway:
        status, _, answer = await gateway.call("GET", "/v1/pnl")
        unattributed, _, _ = await gateway.call("GET", "/v1/pnl?robot=unattributed")
    assert (status, answer["by"], answer["robot"], answer["rows"]) == (200, "robot", None, [])
    assert unattributed == 200
    assert gateway.backend.calls == [
        ("pnl", ("main", "robot", 24, None)),
        ("pnl", ("main", "robot", 24, "unattributed")),
    ]


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("?account=main&by=desk", 400, "by: must be robot or symbol, not 'desk'"),
        ("?account=main&by=", 400, "by: must be robot or symbol, not ''"),
        ("?account=main&hours=0", 400, "hours: must be a number from 1 to 8760, not '0'"),
        ("?account=main&hours=8761", 400, "hours: must be a number from 1 to 8760"),
        ("?account=main&hours=1.5", 400, "hours: must be a number from 1 to 8760"),
        ("?account=main&hours=-1", 400, "hours: must be a number from 1 to 8760"),
        ("?account=main&hours=%D9%A3", 400, "hours: must be a number from 1 to 8760"),
        ("?account=main&hours=1&hours=2", 400, "hours: given more than once"),
        ("?account=main&robot=nobody", 404, "robot: no robot 'nobody' on account 'main'"),
        ("?account=main&robot=beta", 404, "robot: no robot 'beta' on account 'main'"),
        ("?account=other", 404, "account: unknown account 'other'"),
        ("?by=robot", 400, "account: required, this gateway serves several"),
        ("?account=main&colour=red", 400, "unknown parameters 'colour'"),
    ],
)
async def test_bad_queries_are_refused_naming_the_parameter(
    query: str, status: int, error: str
) -> None:
    async with _serving() as gateway:
        answered, _, answer = await gateway.call("GET", f"/v1/pnl{query}")
    assert (answered, answer["error"][: len(error)]) == (status, error)
    assert gateway.backend.calls == []


@pytest.mark.parametrize(
    ("raised", "status"),
    [(LookupError("robot: no robot 'gone' on account 'main'"), 404), (ValueError("by: x"), 400)],
)
async def test_what_the_ledger_refuses_is_refused_not_a_failure(
    raised: Exception, status: int
) -> None:
    backend = FakeBackend(ACCOUNTS)
    backend.fail["pnl"] = raised
    async with _serving(backend) as gateway:
        answered, _, answer = await gateway.call("GET", "/v1/pnl?account=main")
    assert (answered, answer) == (status, {"error": str(raised)})
