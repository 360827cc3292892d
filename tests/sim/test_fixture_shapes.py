"""The simulator's wire shapes against third-party Binance fixtures (recorded and documented).

Every REST call goes through python-binance's AsyncClient, as riskd's own code does. For each
fixture with a simulated counterpart we put the simulator in a state where the answer is not
trivial, then compare the SHAPE recursively: the key set of every object and the JSON type of
every value. The tolerances are the ones SOURCES.md documents, and nothing else:

(a) ccxt recordings made before 2025 stringify integers ("orderId": "664082074"); there a
    fixture string made only of digits (and an optional leading minus: "tradeGroupId": "-1")
    may be an integer in the simulator;
(b) "icebergQuantity": "None" in the SDK examples is a doc artefact for JSON null;
(c) a list is compared element by element against the fixture's first element, except the
    lists named "positional" (kline rows, depth levels, batch answers with an inline error).

Where a fixture is documented as trimmed, stale or an excerpt, the keys allowed to differ are
named per JSON path (``sim_extra`` / ``fixture_only``) with the reason next to them, so that
any other difference still fails.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from binance import AsyncClient
from binance.exceptions import BinanceAPIException

from riskd.sim import SimServer
from riskd.sim.auth import split_signature, verify_signature
from riskd.sim.errors import BinanceError
from tests.kit.fixtures import load_binance
from tests.kit.sim import binance_client

WAIT_S = 5
LOOPBACK = "127.0.0.1"


def stringified_by_ccxt(name: str) -> bool:
    """Caveat 1 of SOURCES.md: ccxt recordings older than 2025 stringify JSON numbers."""
    match = re.search(r"ccxt_real_(\d{4})", name)
    return name.startswith("real/") and match is not None and int(match.group(1)) < 2025


# ---------------------------------------------------------------- the shape comparison


# Tolerance (a): all digits; a leading minus too, since ccxt stringifies negative integers
# the same way (fapi_v2_account's "tradeGroupId": "-1" is the docs' -1).
_INTEGER = re.compile(r"-?[0-9]+")


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


@dataclass(frozen=True)
class Rules:
    """How one fixture is compared. Paths look like ``$.symbols[].filters``."""

    digit_strings: bool = False  # tolerance (a)
    # Keys the simulator may send although the fixture lacks them (the fixture is a subset).
    sim_extra: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Keys of the fixture that the simulator must NOT be expected to send.
    fixture_only: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Lists compared position by position instead of against their first element.
    positional: frozenset[str] = frozenset()
    # Lists that may legitimately be empty in the simulator although the fixture's is not.
    may_be_empty: frozenset[str] = frozenset()


def shape_mismatches(fixture: Any, sim: Any, rules: Rules, path: str = "$") -> list[str]:
    """Every difference in key sets and JSON types between a fixture and a simulator answer."""
    f_type, s_type = json_type(fixture), json_type(sim)
    if f_type != s_type:
        if (
            rules.digit_strings
            and f_type == "string"
            and _INTEGER.fullmatch(fixture)
            and s_type == "integer"
        ):
            return []  # tolerance (a)
        if path.endswith(".icebergQuantity") and fixture == "None" and s_type == "null":
            return []  # tolerance (b)
        return [f"{path}: fixture {f_type} {fixture!r} but simulator {s_type} {sim!r}"]
    if f_type == "object":
        expected = set(fixture) - rules.fixture_only.get(path, frozenset())
        problems = []
        missing = expected - set(sim)
        extra = set(sim) - expected - rules.sim_extra.get(path, frozenset())
        if missing:
            problems.append(f"{path}: simulator lacks keys {sorted(missing)}")
        if extra:
            problems.append(f"{path}: simulator has keys the fixture lacks {sorted(extra)}")
        for key in sorted(expected & set(sim)):
            problems += shape_mismatches(fixture[key], sim[key], rules, f"{path}.{key}")
        return problems
    if f_type == "array":
        if path in rules.positional:
            if len(fixture) != len(sim):
                return [f"{path}: fixture has {len(fixture)} elements, simulator {len(sim)}"]
            return [
                p
                for i, (f, s) in enumerate(zip(fixture, sim, strict=True))
                for p in shape_mismatches(f, s, rules, f"{path}[{i}]")
            ]
        if not fixture:
            return []  # nothing to take an element shape from
        if not sim:
            if path in rules.may_be_empty:
                return []
            return [f"{path}: simulator list is empty, the fixture's is not"]
        problems = []
        for element in sim:
            for problem in shape_mismatches(fixture[0], element, rules, f"{path}[]"):
                if problem not in problems:
                    problems.append(problem)
        return problems
    return []


def test_shape_comparison_reports_keys_types_and_tolerances() -> None:
    """The comparator itself: it must be able to fail, and the tolerances must be narrow."""
    fixture = {"a": 1, "b": "x", "c": [{"d": True}], "icebergQuantity": "None"}
    assert (
        shape_mismatches(
            fixture,
            {"a": 2, "b": "y", "c": [{"d": False}, {"d": True}], "icebergQuantity": None},
            Rules(),
        )
        == []
    )
    assert shape_mismatches(
        fixture, {"a": "2", "b": "y", "c": [{"d": 1}], "icebergQuantity": "None", "e": 0}, Rules()
    ) == [
        "$: simulator has keys the fixture lacks ['e']",
        "$.a: fixture integer 1 but simulator string '2'",
        "$.c[].d: fixture boolean True but simulator integer 1",
    ]
    assert shape_mismatches({"id": "123"}, {"id": 123}, Rules()) != []
    assert shape_mismatches({"id": "123"}, {"id": 123}, Rules(digit_strings=True)) == []
    assert shape_mismatches({"id": "-1"}, {"id": -1}, Rules(digit_strings=True)) == []
    assert shape_mismatches({"id": "1.5"}, {"id": 1.5}, Rules(digit_strings=True)) != []
    assert shape_mismatches({"id": "1"}, {"id": 1.0}, Rules(digit_strings=True)) != []
    assert shape_mismatches([1.5], [1], Rules()) == [
        "$[]: fixture float 1.5 but simulator integer 1"
    ]
    assert shape_mismatches([{"a": 1}], [], Rules()) == [
        "$: simulator list is empty, the fixture's is not"
    ]
    assert shape_mismatches([1, "x"], ["x", 1], Rules(positional=frozenset({"$"}))) != []
    assert (
        shape_mismatches({"a": 1, "b": 2}, {"a": 1}, Rules(fixture_only={"$": frozenset({"b"})}))
        == []
    )
    assert (
        shape_mismatches({"a": 1}, {"a": 1, "b": 2}, Rules(sim_extra={"$": frozenset({"b"})})) == []
    )


# ---------------------------------------------------------------- simulator states


@dataclass
class Env:
    sim: SimServer
    client: AsyncClient
    control: Callable[..., Awaitable[dict]]
    book: dict[str, Any] = field(default_factory=dict)


async def resync_timestamps(env: Env) -> None:
    """After the simulated clock jumps, sign with its time (as AsyncClient.create() does)."""
    server_ms = (await env.client.futures_time())["serverTime"]
    env.client.timestamp_offset = server_ms - int(time.time() * 1000)


async def fresh(env: Env) -> None:
    """No trading: for market data and for errors that need an empty account."""


async def one_way_book(env: Env) -> None:
    """One-way mode: a BTCUSDT long from a MARKET fill, a post-only LIMIT resting far below the
    price, a reduce-only STOP_MARKET in the algo service, and the mark moved (non-zero uPnL)."""
    client = env.client
    env.book["market"] = await client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
    )
    env.book["limit"] = await client.futures_create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTX",
        quantity="0.002",
        price="50000",
    )
    env.book["algo"] = await client.futures_create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_MARKET",
        quantity="0.002",
        stopPrice="55000",
        reduceOnly="true",
    )
    await env.control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "60512.5"})


async def hedge_book(env: Env) -> None:
    """Hedge mode: a BTCUSDT LONG and an ETHUSDT SHORT, plus a resting LONG-side LIMIT."""
    client = env.client
    await client.futures_change_position_mode(dualSidePosition="true")
    await client.futures_create_order(
        symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.010"
    )
    await client.futures_create_order(
        symbol="ETHUSDT", side="SELL", positionSide="SHORT", type="MARKET", quantity="0.100"
    )
    await client.futures_create_order(
        symbol="BTCUSDT",
        side="BUY",
        positionSide="LONG",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.002",
        price="50000",
    )
    await env.control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "60512.5"})
    await env.control("POST", "/_sim/mark", {"symbol": "ETHUSDT", "price": "2990.25"})


async def after_funding(env: Env) -> None:
    """The one-way book, then the simulated clock moved past a funding time (FUNDING_FEE)."""
    await one_way_book(env)
    state = await env.control("GET", "/_sim/state")
    await env.control(
        "POST", "/_sim/clock", {"advance_ms": state["next_funding_time"] - state["time"] + 1}
    )
    await resync_timestamps(env)


async def batch_with_reduce_only_reject(env: Env) -> None:
    """A batch whose second item is a reduce-only SELL with no ETHUSDT position (-2022)."""
    env.book["batch"] = await env.client.futures_place_batch_order(
        batchOrders=[
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.002",
                "price": "50000",
            },
            {
                "symbol": "ETHUSDT",
                "side": "SELL",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.010",
                "price": "3100",
                "reduceOnly": "true",
            },
        ]
    )


# ---------------------------------------------------------------- REST cases


def _by_filter_type(doc: dict) -> dict:
    """exchangeInfo filters compared by filterType (their order is not part of the shape)."""
    symbols = [dict(s, filters={f["filterType"]: f for f in s["filters"]}) for s in doc["symbols"]]
    return dict(doc, symbols=symbols)


def _docs_exchange_info(doc: dict) -> dict:
    # Documented doc bug: the docs page says `OrderType`, the API sends `orderTypes`.
    symbols = [
        {("orderTypes" if k == "OrderType" else k): v for k, v in s.items()} for s in doc["symbols"]
    ]
    return dict(doc, symbols=symbols)


def _split_merged_batch_cancel(doc: list) -> list:
    """The SDK generator merged the success item and the inline error item of DELETE
    batchOrders into one object (SOURCES caveat 4); split it back into the two items."""
    merged = doc[0]
    order = {k: v for k, v in merged.items() if k not in ("code", "msg")}
    return [order, {"code": merged["code"], "msg": merged["msg"]}]


def _cancel_resting_and_unknown(env: Env) -> Awaitable[Any]:
    return env.client.futures_cancel_orders(
        symbol="BTCUSDT", orderidlist=[env.book["limit"]["orderId"], 123456789]
    )


# The docs' openOrders / GET order / DELETE order examples are a TRAILING_STOP_MARKET, which
# since 2025-12-09 lives in the algo service (SOURCES: "the example is stale"): its
# trailing-stop-only keys are not expected on the simulator's LIMIT order.
TRAILING_ONLY = frozenset({"activatePrice", "priceRate"})


@dataclass(frozen=True)
class RestCase:
    fixture: str
    setup: Callable[[Env], Awaitable[None]]
    fetch: Callable[[Env], Any]
    rules: Rules = Rules()
    view: Callable[[Any], Any] | None = None  # applied to fixture and simulator answer
    fixture_view: Callable[[Any], Any] | None = None  # applied to the fixture first
    check: Callable[[Any], None] | None = None  # extra assertions on the simulator answer


def _check_batch_error_item(answer: list) -> None:
    assert answer[1] == {"code": -2022, "msg": "ReduceOnly Order is rejected."}


def _check_funding_fee_present(answer: list) -> None:
    assert answer and {r["incomeType"] for r in answer} == {"FUNDING_FEE"}


def _check_cancel_answers(answer: list) -> None:
    assert answer[0]["status"] == "CANCELED" and answer[1]["code"] == -2011


REST_CASES = [
    RestCase(
        "real/fapi_v1_exchangeInfo_excerpt.nautilus_recorded_2022-02-19.json",
        fresh,
        lambda env: env.client.futures_exchange_info(),
        # maxMoveOrderLimit appeared in exchangeInfo after this 2022 recording.
        Rules(sim_extra={"$.symbols[]": frozenset({"maxMoveOrderLimit"})}),
        view=_by_filter_type,
    ),
    RestCase(
        "docs/fapi_v1_exchangeInfo_excerpt.docs.json",
        fresh,
        lambda env: env.client.futures_exchange_info(),
        # Documented excerpt: no futuresType, no MAX_NUM_ALGO_ORDERS filter and (as in the
        # 2022 recording) no maxMoveOrderLimit. Only those may be extra.
        Rules(
            sim_extra={
                "$": frozenset({"futuresType"}),
                "$.symbols[]": frozenset({"maxMoveOrderLimit"}),
                "$.symbols[].filters": frozenset({"MAX_NUM_ALGO_ORDERS"}),
            },
            # BLZUSDT's is ["STORAGE"]; BTCUSDT's is [] in the real 2022 recording.
            may_be_empty=frozenset({"$.symbols[].underlyingSubType"}),
        ),
        view=_by_filter_type,
        fixture_view=_docs_exchange_info,
    ),
    RestCase(
        "real/fapi_v1_klines_1m_limit3.ccxt_real_2024-04-10.json",
        one_way_book,
        lambda env: env.client.futures_klines(symbol="BTCUSDT", interval="1m", limit=3),
        Rules(digit_strings=True, positional=frozenset({"$[]"})),
    ),
    RestCase(
        "docs/fapi_v1_klines.docs.json",
        one_way_book,
        lambda env: env.client.futures_klines(symbol="BTCUSDT", interval="1h", limit=5),
        Rules(positional=frozenset({"$[]"})),
    ),
    RestCase(
        "real/fapi_v1_depth_limit5.ccxt_real_2024-02-01.json",
        fresh,
        lambda env: env.client.futures_order_book(symbol="BTCUSDT", limit=5),
        Rules(digit_strings=True, positional=frozenset({"$.bids[]", "$.asks[]"})),
    ),
    RestCase(
        "docs/fapi_v1_ticker_bookTicker_single.sdk_docs.json",
        fresh,
        lambda env: env.client.futures_orderbook_ticker(symbol="BTCUSDT"),
    ),
    RestCase(
        "docs/fapi_v1_premiumIndex_single.docs.json",
        one_way_book,
        lambda env: env.client.futures_mark_price(symbol="BTCUSDT"),
    ),
    RestCase("docs/fapi_v1_time.sdk_docs.json", fresh, lambda env: env.client.futures_time()),
    RestCase(
        "docs/fapi_v2_account.sdk_docs.json", one_way_book, lambda env: env.client.futures_account()
    ),
    RestCase(
        "real/fapi_v2_account.ccxt_real_2023-11.json",
        one_way_book,
        lambda env: env.client.futures_account(),
        # This 2023 recording has no feeBurn although the docs (fapi_v2_account.sdk_docs) do;
        # its `positions: []` is documented as probably trimmed by ccxt.
        Rules(digit_strings=True, sim_extra={"$": frozenset({"feeBurn"})}),
    ),
    RestCase(
        "docs/fapi_v3_account.sdk_docs.json",
        one_way_book,
        lambda env: env.client._request_futures_api(
            "get", "account", signed=True, version=3, data={}
        ),
    ),
    RestCase(
        "real/fapi_v3_account.ccxt_real_2024-07-28.json",
        one_way_book,
        lambda env: env.client._request_futures_api(
            "get", "account", signed=True, version=3, data={}
        ),
        Rules(digit_strings=True),
    ),
    RestCase(
        "docs/fapi_v2_positionRisk_oneway.docs.json",
        one_way_book,
        lambda env: env.client._request_futures_api(
            "get", "positionRisk", signed=True, version=2, data={}
        ),
    ),
    RestCase(
        "docs/fapi_v2_positionRisk_hedge.docs.json",
        hedge_book,
        lambda env: env.client._request_futures_api(
            "get", "positionRisk", signed=True, version=2, data={}
        ),
    ),
    RestCase(
        "docs/fapi_v3_positionRisk_oneway.sdk_docs.json",
        one_way_book,
        lambda env: env.client.futures_position_information(),
    ),
    RestCase(
        "docs/fapi_v3_positionRisk_hedge.docs.json",
        hedge_book,
        lambda env: env.client.futures_position_information(),
    ),
    RestCase(
        "real/fapi_v3_positionRisk.ccxt_real_2024-07-28_a.json",
        one_way_book,
        lambda env: env.client.futures_position_information(),
        Rules(digit_strings=True),
    ),
    RestCase(
        "real/fapi_v3_positionRisk.ccxt_real_2024-07-28_b.json",
        one_way_book,
        lambda env: env.client.futures_position_information(symbol="BTCUSDT"),
        Rules(digit_strings=True),
    ),
    RestCase(
        "docs/fapi_v1_income.docs.json",
        after_funding,
        lambda env: env.client.futures_income_history(),
    ),
    RestCase(
        "docs/fapi_v1_income.sdk_docs.json",
        after_funding,
        lambda env: env.client.futures_income_history(),
    ),
    RestCase(
        # A Portfolio Margin (papi) recording: same record shape as /fapi/v1/income.
        "real/papi_v1_um_income_FUNDING_FEE.ccxt_real_2024-02-09.json",
        after_funding,
        lambda env: env.client.futures_income_history(incomeType="FUNDING_FEE"),
        Rules(digit_strings=True),
        check=_check_funding_fee_present,
    ),
    RestCase(
        "docs/fapi_v1_openOrders.docs.json",
        one_way_book,
        lambda env: env.client.futures_get_open_orders(symbol="BTCUSDT"),
        Rules(fixture_only={"$[]": TRAILING_ONLY}),
    ),
    RestCase(
        "real/fapi_v1_openOrder.ccxt_real_2024-02-14.json",
        one_way_book,
        lambda env: env.client._request_futures_api(
            "get",
            "openOrder",
            signed=True,
            data={"symbol": "BTCUSDT", "orderId": env.book["limit"]["orderId"]},
        ),
        Rules(digit_strings=True),
    ),
    RestCase(
        "docs/fapi_v1_order_GET.sdk_docs.json",
        one_way_book,
        lambda env: env.client.futures_get_order(
            symbol="BTCUSDT", orderId=env.book["limit"]["orderId"]
        ),
        Rules(fixture_only={"$": TRAILING_ONLY}),
    ),
    RestCase(
        "docs/fapi_v1_order_POST.sdk_docs.json",
        one_way_book,
        lambda env: env.book["limit"],
        # The SDK example lacks cumQuote/avgPrice, which the real 2025 recording of the same
        # order object (batchOrders POST items) carries; the exact check is that case.
        Rules(sim_extra={"$": frozenset({"cumQuote", "avgPrice"})}),
    ),
    RestCase(
        "docs/fapi_v1_order_DELETE.sdk_docs.json",
        one_way_book,
        lambda env: env.client.futures_cancel_order(
            symbol="BTCUSDT", orderId=env.book["limit"]["orderId"]
        ),
        Rules(fixture_only={"$": TRAILING_ONLY}),
    ),
    RestCase(
        "real/fapi_v1_batchOrders_POST.ccxt_real_2025-02-17.json",
        batch_with_reduce_only_reject,
        lambda env: env.book["batch"][:1],
    ),
    RestCase(
        "docs/fapi_v1_batchOrders_POST.docs.json",
        batch_with_reduce_only_reject,
        lambda env: env.book["batch"],
        Rules(positional=frozenset({"$"})),
        check=_check_batch_error_item,
    ),
    RestCase(
        "docs/fapi_v1_batchOrders_DELETE.sdk_docs.json",
        one_way_book,
        _cancel_resting_and_unknown,
        Rules(positional=frozenset({"$"}), fixture_only={"$[0]": TRAILING_ONLY}),
        fixture_view=_split_merged_batch_cancel,
        check=_check_cancel_answers,
    ),
    RestCase(
        "docs/fapi_v1_allOpenOrders_DELETE.docs.json",
        one_way_book,
        lambda env: env.client.futures_cancel_all_open_orders(symbol="BTCUSDT"),
    ),
    RestCase(
        "docs/fapi_v1_algoOrder_POST.sdk_docs.json", one_way_book, lambda env: env.book["algo"]
    ),
    RestCase(
        "docs/fapi_v1_algoOrder_GET.sdk_docs.json",
        one_way_book,
        lambda env: env.client.futures_get_algo_order(algoId=env.book["algo"]["algoId"]),
    ),
    RestCase(
        "docs/fapi_v1_algoOrder_DELETE.sdk_docs.json",
        one_way_book,
        lambda env: env.client.futures_cancel_algo_order(algoId=env.book["algo"]["algoId"]),
    ),
    RestCase(
        "docs/fapi_v1_openAlgoOrders.sdk_docs.json",
        one_way_book,
        lambda env: env.client.futures_get_open_orders(conditional=True),
    ),
    RestCase(
        "docs/fapi_v1_countdownCancelAll.docs.json",
        one_way_book,
        lambda env: env.client.futures_countdown_cancel_all(symbol="BTCUSDT", countdownTime=120000),
    ),
    RestCase(
        "docs/fapi_v1_listenKey_POST.docs.json",
        fresh,
        lambda env: env.client._request_futures_api("post", "listenKey", signed=False, data={}),
    ),
    RestCase(
        "real/fapi_v1_userTrades.ccxt_real_2023-11-14.json",
        one_way_book,
        lambda env: env.client.futures_account_trades(symbol="BTCUSDT"),
        Rules(digit_strings=True),
    ),
    RestCase(
        "real/fapi_v1_ticker_price.real_mainnet_2024-10-26.json",
        fresh,
        lambda env: env.client.futures_symbol_ticker(symbol="BTCUSDT"),
    ),
    RestCase(
        # v2 of ticker/price has the v1 shape.
        "real/fapi_v1_ticker_price.real_mainnet_2024-10-26.json",
        fresh,
        lambda env: env.client._request_futures_api(
            "get", "ticker/price", signed=False, version=2, data={"symbol": "BTCUSDT"}
        ),
    ),
    RestCase("docs/fapi_v1_listenKey_PUT.docs.json", fresh, lambda env: _keepalive(env)),
    RestCase("docs/fapi_v1_listenKey_DELETE.docs.json", fresh, lambda env: _close(env)),
]


async def _keepalive(env: Env) -> Any:
    key = await env.client.futures_stream_get_listen_key()
    return await env.client.futures_stream_keepalive(listenKey=key)


async def _close(env: Env) -> Any:
    key = await env.client.futures_stream_get_listen_key()
    return await env.client.futures_stream_close(listenKey=key)


def _case_id(case: RestCase) -> str:
    return Path(case.fixture).name.removesuffix(".json")


def _case_ids(cases: list[RestCase]) -> list[str]:
    """Unique ids: a fixture used twice gets its position appended the second time."""
    ids: list[str] = []
    for case in cases:
        name = _case_id(case)
        ids.append(name if name not in ids else f"{name}-{len(ids)}")
    return ids


@pytest.mark.parametrize("case", REST_CASES, ids=_case_ids(REST_CASES))
async def test_rest_answer_has_fixture_shape(case: RestCase, sim, client, control) -> None:
    fixture = load_binance(case.fixture)
    env = Env(sim, client, control)
    await case.setup(env)
    answer = case.fetch(env)
    if inspect.isawaitable(answer):
        answer = await answer
    if case.fixture_view:
        fixture = case.fixture_view(fixture)
    if case.view:
        fixture, answer = case.view(fixture), case.view(answer)
    rules = case.rules
    if stringified_by_ccxt(case.fixture) and not rules.digit_strings:
        pytest.fail(f"{case.fixture} is a pre-2025 ccxt recording: declare tolerance (a)")
    assert shape_mismatches(fixture, answer, rules) == []
    if case.check:
        case.check(answer)


# ---------------------------------------------------------------- error bodies


def _precision_too_fine(env: Env) -> Awaitable[Any]:
    return env.client.futures_create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.0001",
        price="50000",
    )


def _stop_market_on_order_endpoint(env: Env) -> Awaitable[Any]:
    # futures_create_order would route STOP_MARKET to the algo endpoint: call /order directly.
    return env.client._request_futures_api(
        "post",
        "order",
        True,
        data={
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "STOP_MARKET",
            "quantity": "0.002",
            "stopPrice": "55000",
        },
    )


async def _market_far_from_mark(env: Env) -> Any:
    await env.control(
        "POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "60000", "last": "70000"}
    )
    return await env.client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.002"
    )


def _notional_below_five(env: Env) -> Awaitable[Any]:
    # SOLUSDT's MIN_NOTIONAL is 5, the threshold in the recorded message.
    return env.client.futures_create_order(
        symbol="SOLUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="4"
    )


def _more_than_the_margin(env: Env) -> Awaitable[Any]:
    return env.client.futures_create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="1000",
        price="59000",
    )


async def _stale_timestamp(env: Env) -> Any:
    # python-binance signs with recvWindow=10000: put the server 30 s ahead of the client.
    await env.control("POST", "/_sim/clock", {"advance_ms": 30_000})
    return await env.client.futures_account()


ERROR_CASES = [
    ("real/errors/error_-1021_http400.real_mainnet_2024-10-26.json", 400, _stale_timestamp),
    (
        "real/errors/error_-2011_http400.real_testnet_2022-04-12.json",
        400,
        lambda env: env.client.futures_cancel_order(symbol="BTCUSDT", orderId=123456789),
    ),
    ("real/errors/error_-1111.real_2021-06-11.json", 400, _precision_too_fine),
    ("real/errors/error_-4120.real_mainnet_2025-12-09.json", 400, _stop_market_on_order_endpoint),
    ("real/errors/error_-4131_http400.real_testnet_2024-03-19.json", 400, _market_far_from_mark),
    ("real/errors/error_-4164_http400.real_2023-09-10.json", 400, _notional_below_five),
    ("real/errors/error_-2019.real_2021-06-08.json", 400, _more_than_the_margin),
]


@pytest.mark.parametrize(
    ("fixture_name", "status", "provoke"),
    ERROR_CASES,
    ids=[Path(c[0]).name.removesuffix(".json") for c in ERROR_CASES],
)
async def test_error_body_matches_real_error(
    fixture_name, status, provoke, sim, client, control
) -> None:
    expected = load_binance(fixture_name)
    with pytest.raises(BinanceAPIException) as info:
        await provoke(Env(sim, client, control))
    error = info.value
    assert (error.status_code, error.code, error.message) == (
        status,
        expected["code"],
        expected["msg"],
    )
    assert set(json.loads(await error.response.text())) == {"code", "msg"}


def _mbx_header_names(headers: Mapping[str, str]) -> set[str]:
    return {name.lower() for name in headers if name.lower().startswith("x-mbx-")}


async def test_order_answer_carries_the_recorded_x_mbx_headers(sim, client) -> None:
    recorded = load_binance("real/headers_fapi_order_response.real_2020-06-04.partial.json")
    await client.futures_create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.002",
        price="50000",
    )
    headers = client.response.headers
    assert _mbx_header_names(recorded) == {"x-mbx-used-weight-1m", "x-mbx-order-count-1m"}
    assert _mbx_header_names(recorded) <= _mbx_header_names(headers)
    assert headers["Content-Type"].startswith(recorded["content-type"])


async def test_error_answer_carries_the_recorded_x_mbx_headers(sim, client) -> None:
    recorded = load_binance("real/errors/error_-2011_http400.real_testnet_2022-04-12.headers.json")
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_cancel_order(symbol="BTCUSDT", orderId=123456789)
    headers = info.value.response.headers
    assert _mbx_header_names(recorded) == {"x-mbx-used-weight-1m"}
    assert _mbx_header_names(recorded) <= _mbx_header_names(headers)
    assert headers["Content-Type"].startswith(recorded["Content-Type"])


def message_pattern(masked: str, ip: str) -> str:
    """A regex from a reported message: masked IP → ``ip``, every number → ``\\d+``."""
    placeholder = "IPADDRESS"
    text = re.sub(r"X\.X\.X\.X|\*{3}\.\*{3}\.\*{3}\.\*{3}", placeholder, masked)
    pattern = r"\d+".join(re.escape(part) for part in re.split(r"\d+", text))
    return pattern.replace(placeholder, re.escape(ip))


def test_message_pattern_replaces_masked_ip_and_numbers() -> None:
    pattern = message_pattern(
        "IP(X.X.X.X) is 2400 requests; IP(***.***.***.***) until 16.", LOOPBACK
    )
    assert re.fullmatch(pattern, "IP(127.0.0.1) is 20 requests; IP(127.0.0.1) until 99.")
    assert not re.fullmatch(pattern, "IP(127.0.0.2) is 20 requests; IP(127.0.0.1) until 99.")
    assert not re.fullmatch(pattern, "IP(127.0.0.1) is 20 requests; IP(127.0.0.1) until x.")


@pytest.mark.parametrize(
    ("variant", "status"), [("too_many_requests_429", 429), ("ip_banned_418", 418)]
)
async def test_rate_limit_error_matches_real_message(variant, status, make_sim) -> None:
    reported = load_binance("real/errors/error_-1003_messages.real_reports.json")[variant]
    limited = await make_sim(
        limits={"weight_per_minute": 20, "requests_while_limited_before_ban": 2}
    )
    client = binance_client(limited)
    error = None
    try:
        for _ in range(20):  # 4 x weight 5 fit, then 429 x 2, then 418
            try:
                await client.futures_account()
            except BinanceAPIException as exc:
                if exc.status_code == status:
                    error = exc
                    break
    finally:
        await client.close_connection()
    assert error is not None, f"no HTTP {status} within 20 requests"
    assert error.code == reported["code"] == -1003
    assert re.fullmatch(message_pattern(reported["msg"], LOOPBACK), error.message), (
        error.message,
        reported["msg"],
    )


# ---------------------------------------------------------------- user-data stream events


async def _open_stream(env: Env, session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    key = await env.client.futures_stream_get_listen_key()
    env.book["listenKey"] = key
    ws = await session.ws_connect(f"{env.sim.ws_url}/private/ws?listenKey={key}")
    for _ in range(500):  # until the simulator has registered the socket
        if (await env.control("GET", "/_sim/state"))["user_stream"]["connections"]:
            return ws
        await asyncio.sleep(0.01)
    pytest.fail("the simulator never registered the user-stream socket")


async def _next_event(ws: aiohttp.ClientWebSocketResponse, wanted: Callable[[dict], bool]) -> dict:
    while True:
        message = await asyncio.wait_for(ws.receive(), WAIT_S)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        event = json.loads(message.data)
        if wanted(event):
            return event


def _order_event(execution: str) -> Callable[[dict], bool]:
    return lambda e: e.get("e") == "ORDER_TRADE_UPDATE" and e["o"]["x"] == execution


def _algo_event(status: str) -> Callable[[dict], bool]:
    return lambda e: e.get("e") == "ALGO_UPDATE" and e["o"]["X"] == status


async def _place_resting_limit(env: Env) -> None:
    await env.client.futures_create_order(
        symbol="SOLUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="21", price="140"
    )


async def _fill_market(env: Env) -> None:
    await env.client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
    )


async def _trigger_stop(env: Env) -> None:
    await env.client.futures_create_order(
        symbol="DOGEUSDT", side="BUY", type="STOP_MARKET", quantity="38", stopPrice="0.155"
    )
    await env.control("POST", "/_sim/mark", {"symbol": "DOGEUSDT", "price": "0.156"})


async def _reduce_only_stop_without_position(env: Env) -> None:
    await env.client.futures_create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="TAKE_PROFIT",
        quantity="0.002",
        stopPrice="61000",
        price="61000",
        timeInForce="GTC",
        reduceOnly="true",
    )
    await env.control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "61500"})


async def _set_leverage(env: Env) -> None:
    await env.client.futures_change_leverage(symbol="BTCUSDT", leverage=25)


def _check_leverage_config(event: dict, _env: Env) -> None:
    assert event["ac"] == {"s": "BTCUSDT", "l": 25}


async def _expire_listen_key(env: Env) -> None:
    await env.control("POST", "/_sim/clock", {"advance_ms": 3_600_001})


@dataclass(frozen=True)
class StreamCase:
    fixture: str
    act: Callable[[Env], Awaitable[None]]
    wanted: Callable[[dict], bool]
    rules: Rules = Rules()
    check: Callable[[dict, Env], None] | None = None
    label: str = ""  # tells apart two cases of one fixture

    @property
    def id(self) -> str:
        name = Path(self.fixture).name.removesuffix(".json")
        return f"{name}-{self.label}" if self.label else name


def _check_reject_reason(event: dict, _env: Env) -> None:
    assert event["o"]["rm"] == "Reduce Only reject"


def _check_expired_key(event: dict, env: Env) -> None:
    assert event["listenKey"] == env.book["listenKey"]


STREAM_CASES = [
    StreamCase(
        "real/ws_ORDER_TRADE_UPDATE_NEW.real_mainnet_2026-05-21.json",
        _place_resting_limit,
        _order_event("NEW"),
    ),
    # A fill carries the same keys (l, L, n, t, m, rp filled in): same fixture, TRADE event.
    StreamCase(
        "real/ws_ORDER_TRADE_UPDATE_NEW.real_mainnet_2026-05-21.json",
        _fill_market,
        _order_event("TRADE"),
        label="TRADE",
    ),
    # AP (activation price) and cr (callback rate) are sent for trailing stops only; the
    # docs example is a TRAILING_STOP_MARKET, the simulator's order a LIMIT.
    StreamCase(
        "docs/ws_ORDER_TRADE_UPDATE.docs.json",
        _place_resting_limit,
        _order_event("NEW"),
        Rules(fixture_only={"$.o": frozenset({"AP", "cr"})}),
    ),
    StreamCase(
        "docs/ws_ACCOUNT_UPDATE.docs.json", _fill_market, lambda e: e.get("e") == "ACCOUNT_UPDATE"
    ),
    StreamCase(
        "real/ws_ALGO_UPDATE_TRIGGERING.nautilus_testnet_2025-12-11.json",
        _trigger_stop,
        _algo_event("TRIGGERING"),
    ),
    StreamCase(
        "real/ws_ALGO_UPDATE_TRIGGERED.nautilus_testnet_2025-12-11.json",
        _trigger_stop,
        _algo_event("TRIGGERED"),
    ),
    StreamCase(
        "real/ws_ALGO_UPDATE_FINISHED.nautilus_testnet_2025-12-11.json",
        _trigger_stop,
        _algo_event("FINISHED"),
    ),
    StreamCase(
        "docs/ws_ALGO_UPDATE.docs.json",
        _reduce_only_stop_without_position,
        _algo_event("CANCELED"),
        check=_check_reject_reason,
    ),
    StreamCase(
        "docs/ws_ACCOUNT_CONFIG_UPDATE_leverage.docs.json",
        _set_leverage,
        lambda e: e.get("e") == "ACCOUNT_CONFIG_UPDATE",
        check=_check_leverage_config,
    ),
    # The docs example sends E as a string; the SDK model is an int since 10.3.0 (SOURCES):
    # both are accepted, which is tolerance (a) for this one event.
    StreamCase(
        "docs/ws_listenKeyExpired.docs.json",
        _expire_listen_key,
        lambda e: e.get("e") == "listenKeyExpired",
        Rules(digit_strings=True),
        check=_check_expired_key,
    ),
]


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda c: c.id)
async def test_user_stream_event_has_fixture_shape(case: StreamCase, sim, client, control) -> None:
    fixture = load_binance(case.fixture)
    env = Env(sim, client, control)
    async with aiohttp.ClientSession() as session:
        ws = await _open_stream(env, session)
        try:
            await case.act(env)
            event = await _next_event(ws, case.wanted)
        finally:
            await ws.close()
    assert shape_mismatches(fixture, event, case.rules) == []
    if case.check:
        case.check(event, env)


# ---------------------------------------------------------------- HMAC signature vectors


def _signed_parts(vector: dict, signature: str) -> tuple[str, str]:
    """Query and body as sent: the signature is appended to the body when there is one."""
    query, body = vector["queryString"], vector["requestBody"]
    if body:
        return query, f"{body}&signature={signature}"
    return f"{query}&signature={signature}", body


def _vectors() -> list[dict]:
    return load_binance("docs/hmac_sha256_signature_vectors.docs.json")["vectors"]


@pytest.mark.parametrize(
    "index", [0, 1, 2], ids=["query_string", "request_body", "mixed_query_and_body"]
)
def test_documented_hmac_vector_verifies(index: int) -> None:
    doc = load_binance("docs/hmac_sha256_signature_vectors.docs.json")
    vector = doc["vectors"][index]
    query, body = _signed_parts(vector, vector["signature"])
    assert split_signature(query, body) == (vector["totalParams"], vector["signature"])
    verify_signature(doc["secretKey"], query, body)  # raises BinanceError if it does not


def test_vector_file_holds_the_three_documented_examples() -> None:
    assert [v["name"] for v in _vectors()] == [
        "example1_query_string",
        "example2_request_body",
        "example3_mixed_query_and_body",
    ]
    assert " 1591702613943" in _vectors()[2]["requestBody"]  # the docs' literal space


@pytest.mark.parametrize("tamper", ["signature", "payload"])
@pytest.mark.parametrize(
    "index", [0, 1, 2], ids=["query_string", "request_body", "mixed_query_and_body"]
)
def test_tampered_hmac_vector_is_rejected_with_1022(index: int, tamper: str) -> None:
    doc = load_binance("docs/hmac_sha256_signature_vectors.docs.json")
    vector = doc["vectors"][index]
    signature = vector["signature"]
    if tamper == "signature":
        signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    query, body = _signed_parts(vector, signature)
    if tamper == "payload":
        query, body = (
            query.replace("price=9000", "price=9001"),
            body.replace("price=9000", "price=9001"),
        )
    with pytest.raises(BinanceError) as info:
        verify_signature(doc["secretKey"], query, body)
    assert (info.value.code, info.value.msg) == (-1022, "Signature for this request is not valid.")
