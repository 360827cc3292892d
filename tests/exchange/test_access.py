"""BinanceAccess against the simulator: budgets, per-IP breaker, clock, typed errors."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from riskd.exchange.errors import (
    ExchangeError,
    IpBanned,
    MalformedResponse,
    RateLimited,
    Rejected,
    ServerError,
    StatusUnknown,
)
from riskd.exchange.guard import IpEventKind
from tests.kit.sim import binance_client


def _account(access):
    return access.read("GET", "/fapi/v2/account", access.client.futures_account)


async def _demand(access, calls: int) -> int:
    done = 0
    for _ in range(calls):
        await _account(access)
        done += 1
    return done


async def _run_for(seconds: float, *coros) -> list[asyncio.Task]:
    tasks = [asyncio.create_task(c) for c in coros]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return tasks


def _ip_state(sim, ip: str) -> dict:
    return sim.limiter.state()["ips"].get(
        ip, {"total_weight": 0, "responses_429": 0, "responses_418": 0}
    )


async def test_jobs_never_exceed_their_budgets_on_a_shared_ip(sim, make_access) -> None:
    jobs = [make_access(sim, ip="127.0.0.2", weight_per_minute=30, job=f"j{i}") for i in range(3)]
    await _run_for(1.0, *(_demand(job, 20) for job in jobs))  # each wants 100 weight
    assert [job.budget.spent_total for job in jobs] == [30, 30, 30]
    assert _ip_state(sim, "127.0.0.2")["total_weight"] == 90
    assert _ip_state(sim, "127.0.0.2")["responses_429"] == 0


async def test_budgets_are_separate_per_ip(sim, make_access) -> None:
    a = make_access(sim, ip="127.0.0.2", weight_per_minute=20)
    b = make_access(sim, ip="127.0.0.3", weight_per_minute=10)
    await _run_for(0.5, _demand(a, 10), _demand(b, 10))
    assert _ip_state(sim, "127.0.0.2")["total_weight"] == 20
    assert _ip_state(sim, "127.0.0.3")["total_weight"] == 10


async def test_used_weight_header_is_captured_per_request_under_concurrency(
    sim, make_access
) -> None:
    a = make_access(sim, ip="127.0.0.2")
    b = make_access(sim, ip="127.0.0.3")
    await asyncio.gather(_account(a), _account(a), _account(b))
    assert a.stats.last_used_weight_header == 10
    assert b.stats.last_used_weight_header == 5


async def test_a_429_pauses_every_job_on_that_ip_and_only_that_ip(
    make_sim, make_access, ip_events
) -> None:
    sim = await make_sim(limits={"weight_per_minute": 50})
    hog = binance_client(sim, local_addr="127.0.0.2")  # another program on the same IP
    for _ in range(10):
        await hog.futures_account()  # 50: the IP is at its limit
    await hog.close_connection()
    first = make_access(sim, ip="127.0.0.2", job="first")
    second = make_access(sim, ip="127.0.0.2", job="second")
    other = make_access(sim, ip="127.0.0.3", job="other")
    first_task = asyncio.create_task(_account(first))
    await asyncio.sleep(0.3)
    assert _ip_state(sim, "127.0.0.2")["responses_429"] == 1
    second_task = asyncio.create_task(_account(second))
    await _account(other)
    await asyncio.sleep(0.3)
    assert not first_task.done() and not second_task.done()  # paused, not hammering
    assert _ip_state(sim, "127.0.0.2")["responses_429"] == 1
    assert [(e.kind, e.ip) for e in ip_events] == [(IpEventKind.RATE_LIMITED, "127.0.0.2")]
    for task in (first_task, second_task):
        task.cancel()


async def test_a_418_stops_every_job_on_the_ip_until_the_ban_ends(
    make_sim, make_access, ip_events, server_clock
) -> None:
    sim = await make_sim(limits={"weight_per_minute": 20, "requests_while_limited_before_ban": 1})
    hog = binance_client(sim, local_addr="127.0.0.2")
    for _ in range(5):
        with contextlib.suppress(Exception):
            await hog.futures_account()
    await hog.close_connection()
    assert _ip_state(sim, "127.0.0.2")["responses_418"] == 0
    first = make_access(sim, ip="127.0.0.2", job="first")
    second = make_access(sim, ip="127.0.0.2", job="second")
    with pytest.raises(IpBanned) as info:
        await _account(first)
    banned_until = info.value.until_ms
    assert banned_until > sim.clock.now_ms()
    with pytest.raises(IpBanned):
        await _account(second)  # refused here: never sent
    assert _ip_state(sim, "127.0.0.2")["responses_418"] == 1
    assert [e.kind for e in ip_events] == [IpEventKind.BANNED]
    elapsed = banned_until - sim.clock.now_ms() + 1
    sim.clock.advance(elapsed)
    server_clock.offset_ms += elapsed
    account = await _account(second)  # −1021 after the jump, resynced, then fine
    assert account["assets"][0]["asset"] == "USDT"
    assert [e.kind for e in ip_events] == [IpEventKind.BANNED, IpEventKind.BAN_ENDED]


async def test_invalid_timestamp_resyncs_the_clock_and_retries_once(sim, make_access) -> None:
    access = make_access(sim)
    sim.clock.advance(30_000)
    await _account(access)
    assert access.clock.synced and abs(access.client.timestamp_offset - 30_000) < 1000
    assert access.stats.errors == 1


async def test_malformed_answers_are_retried_then_typed(sim, make_access, control) -> None:
    access = make_access(sim)
    await control("POST", "/_sim/fault", {"path": "/fapi/v2/account", "kind": "malformed"})
    assert (await _account(access))["assets"]  # one bad answer, then a good one
    await control(
        "POST", "/_sim/fault", {"path": "/fapi/v2/account", "kind": "malformed", "count": 4}
    )
    with pytest.raises(MalformedResponse, match="GET /fapi/v2/account"):
        await _account(access)
    assert access.stats.retries == 4


async def test_a_read_is_retried_only_while_the_budget_keeps_its_reserve(
    sim, make_access, control
) -> None:
    access = make_access(sim, weight_per_minute=20)  # the account read weighs 5; reserve 5
    await control(
        "POST", "/_sim/fault", {"path": "/fapi/v2/account", "kind": "malformed", "count": 4}
    )
    with pytest.raises(MalformedResponse):
        await _account(access)
    assert access.stats.retries == 2  # sent at 0, 5 and 10 used; a fourth would leave < 5
    assert access.budget.used(access.clock.now_ms()) == 15


async def test_a_page_instead_of_json_is_a_malformed_response(make_access) -> None:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/fapi/v2/account", page)
    async with TestServer(app, host="127.0.0.1") as server:
        access = make_access(SimpleNamespace(url=str(server.make_url("")).rstrip("/")))
        with pytest.raises(MalformedResponse) as info:
            await _account(access)
    assert str(info.value) == "GET /fapi/v2/account: HTTP 200: the body is not the JSON promised"


async def test_html_503_on_a_read_is_a_server_error(sim, make_access, control) -> None:
    access = make_access(sim)
    await control("POST", "/_sim/fault", {"path": "*", "kind": "html503", "count": 4})
    with pytest.raises(ServerError) as info:
        await _account(access)
    assert info.value.http_status == 503


@pytest.mark.parametrize(
    ("kind", "shown"),
    [
        ("malformed", "GET /fapi/v2/account: HTTP 200: the body is not the JSON promised"),
        ("html503", "GET /fapi/v2/account: HTTP 503 without a Binance error body"),
        ("http5xx", "GET /fapi/v2/account: HTTP 502 without a Binance error body"),
        (
            "unknown503",
            "GET /fapi/v2/account: outcome unknown after HTTP 503 code -1000: Unknown error, "
            "please check your request or try again later.",
        ),
    ],
)
async def test_a_faulty_answer_shows_its_status_and_code_never_the_request_or_body(
    sim, make_access, control, kind: str, shown: str
) -> None:
    access = make_access(sim)
    balance = (await _account(access))["totalWalletBalance"].split(".")[0]
    await control("POST", "/_sim/fault", {"path": "/fapi/v2/account", "kind": kind, "count": 4})
    with pytest.raises(ExchangeError) as info:
        await _account(access)
    text = str(info.value)
    assert text == shown
    for secret in ("signature", "timestamp=", "recvWindow", "<bound method", "sim-key", balance):
        assert secret not in text


async def test_rejections_carry_binance_code_and_are_not_retried(sim, make_access) -> None:
    access = make_access(sim)
    with pytest.raises(Rejected) as info:
        await access.read(
            "GET",
            "/fapi/v1/order",
            lambda: access.client.futures_get_order(symbol="BTCUSDT", orderId=1),
            {"symbol": "BTCUSDT"},
        )
    assert (info.value.code, info.value.http_status) == (-2013, 400)
    assert str(info.value) == "GET /fapi/v1/order: HTTP 400 code -2013: Order does not exist."
    assert access.stats.calls == 1


def _limit(client_id: str) -> dict:
    return {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.002",
        "price": "59000",
        "newClientOrderId": client_id,
    }


async def test_unknown_status_placement_is_found_by_client_id(sim, make_access, control) -> None:
    access = make_access(sim)
    await control("POST", "/_sim/fault", {"path": "/fapi/v1/order", "kind": "unknown503"})
    order = await access.place_order(_limit("riskd-1"))
    assert order["clientOrderId"] == "riskd-1" and order["status"] == "NEW"
    open_orders = sim.exchange.state()["accounts"]["sim"]["open_orders"]
    assert [o["clientOrderId"] for o in open_orders] == ["riskd-1"]


async def test_unexecuted_placement_with_unknown_status_is_placed_once(
    sim, make_access, control
) -> None:
    access = make_access(sim)
    await control("POST", "/_sim/fault", {"path": "/fapi/v1/order", "kind": "html503"})
    order = await access.place_order(_limit("riskd-2"))
    assert order["clientOrderId"] == "riskd-2"
    open_orders = sim.exchange.state()["accounts"]["sim"]["open_orders"]
    assert [o["clientOrderId"] for o in open_orders] == ["riskd-2"]


async def test_unknown_status_algo_placement_is_found_by_client_algo_id(
    sim, make_access, control
) -> None:
    access = make_access(sim)
    await access.client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
    )
    await control("POST", "/_sim/fault", {"path": "/fapi/v1/algoOrder", "kind": "unknown503"})
    algo = await access.place_algo_order(
        {
            "algoType": "CONDITIONAL",
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "STOP_MARKET",
            "triggerPrice": "57000",
            "quantity": "0.010",
            "reduceOnly": "true",
            "clientAlgoId": "rung-1",
        }
    )
    assert algo["clientAlgoId"] == "rung-1" and algo["algoStatus"] == "NEW"
    algos = sim.exchange.state()["accounts"]["sim"]["open_algo_orders"]
    assert [a["clientAlgoId"] for a in algos] == ["rung-1"]


async def test_writes_without_client_id_are_refused(sim, make_access) -> None:
    access = make_access(sim)
    with pytest.raises(ValueError, match="newClientOrderId"):
        await access.place_order(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"}
        )
    with pytest.raises(ValueError, match="place_algo_order"):
        await access.place_order(
            {"symbol": "BTCUSDT", "type": "STOP_MARKET", "newClientOrderId": "x"}
        )


async def test_a_write_whose_answer_is_lost_is_status_unknown(sim, make_access, control) -> None:
    access = make_access(sim)
    await control("POST", "/_sim/fault", {"path": "/fapi/v1/countdownCancelAll", "kind": "http5xx"})
    with pytest.raises(StatusUnknown, match="outcome unknown after HTTP 502 without a Binance"):
        await access.write(
            "POST",
            "/fapi/v1/countdownCancelAll",
            lambda: access.client.futures_countdown_cancel_all(
                symbol="BTCUSDT", countdownTime=120000
            ),
        )


async def test_order_budget_waits_instead_of_exceeding_the_account_limit(sim, make_access) -> None:
    from riskd.exchange.budget import OrderBudget

    orders = OrderBudget(orders_per_10s=3, orders_per_minute=100)
    access = make_access(sim, orders=orders)

    async def place(n: int) -> None:
        for i in range(n):
            await access.place_order(_limit(f"o-{i}") | {"price": str(59000 - i)})

    await _run_for(0.5, place(5))
    assert len(sim.exchange.state()["accounts"]["sim"]["open_orders"]) == 3


async def test_rate_limited_error_is_typed_when_the_pause_is_too_long(
    make_sim, make_access
) -> None:
    from riskd.exchange.access import RetryConfig

    sim = await make_sim(limits={"weight_per_minute": 5})
    access = make_access(sim, retry=RetryConfig(max_pause_wait_ms=0))
    await _account(access)
    with pytest.raises(RateLimited) as info:
        await _account(access)
    assert info.value.ip == "127.0.0.1" and info.value.retry_after_ms > 0
