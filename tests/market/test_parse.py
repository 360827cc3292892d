from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from riskd.exchange.errors import MalformedResponse
from riskd.market import parse
from riskd.market.records import BookTicker, Kline, MarkPrice, Ticker24h
from tests.kit.fixtures import load_binance
from tests.kit.market import NOW_MS, kline_row

REAL_KLINES = "real/fapi_v1_klines_1m_limit3.ccxt_real_2024-04-10.json"

# Event shapes as Binance's WebSocket market-stream docs show them.
KLINE_EVENT = {
    "e": "kline",
    "E": 1712738581250,
    "s": "BTCUSDT",
    "k": {
        "t": 1712738580000,
        "T": 1712738639999,
        "s": "BTCUSDT",
        "i": "1m",
        "f": 4870123,
        "L": 4870130,
        "o": "71470.70",
        "c": "70459.40",
        "h": "71470.90",
        "l": "70459.40",
        "v": "1.542",
        "n": 8,
        "x": False,
        "q": "108661.55840",
        "V": "0.013",
        "Q": "929.12130",
        "B": "0",
    },
}
MARK_EVENT = {
    "e": "markPriceUpdate",
    "E": 1562305380000,
    "s": "BTCUSDT",
    "p": "11794.15000000",
    "i": "11784.62659091",
    "P": "11784.25641265",
    "r": "0.00038167",
    "T": 1562306400000,
}
BOOK_EVENT = {
    "e": "bookTicker",
    "u": 400900217,
    "E": 1568014460893,
    "T": 1568014460891,
    "s": "BNBUSDT",
    "b": "25.35190000",
    "B": "31.21000000",
    "a": "25.36520000",
    "A": "40.66000000",
}
TICKER_EVENT = {
    "e": "24hrTicker",
    "E": 1712738581000,
    "s": "BTCUSDT",
    "p": "-541.60",
    "P": "-0.763",
    "w": "70890.12",
    "c": "70459.40",
    "Q": "0.010",
    "o": "71001.00",
    "h": "71500.00",
    "l": "70000.00",
    "v": "14.200",
    "q": "1006639.71",
    "O": 1712652180000,
    "C": 1712738580999,
    "F": 4800000,
    "L": 4870130,
    "n": 70131,
}
TICKER_24H_ROW = {
    "symbol": "BTCUSDT",
    "priceChange": "-541.60",
    "priceChangePercent": "-0.763",
    "weightedAvgPrice": "70890.12",
    "lastPrice": "70459.40",
    "lastQty": "0.010",
    "openPrice": "71001.00",
    "highPrice": "71500.00",
    "lowPrice": "70000.00",
    "volume": "14.200",
    "quoteVolume": "1006639.71",
    "openTime": 1712652180000,
    "closeTime": 1712738580999,
    "firstId": 4800000,
    "lastId": 4870130,
    "count": 70131,
}
DELIVERY_PREMIUM_INDEX = {
    "symbol": "BTCUSDT_250328",
    "markPrice": "71800.1",
    "indexPrice": "71000.2",
    "estimatedSettlePrice": "71020.3",
    "lastFundingRate": "",
    "interestRate": "",
    "nextFundingTime": 0,
    "time": 1712738580000,
}


def _malformed(call: Any, *args: Any) -> str:
    """The message of the MalformedResponse *call* raises."""
    with pytest.raises(MalformedResponse) as raised:
        call(*args)
    return str(raised.value)


def _with(payload: dict, path: str, value: Any) -> dict:
    """*payload* with the field at dotted *path* set to *value* (``...`` deletes it)."""
    changed = copy.deepcopy(payload)
    *parents, key = path.split(".")
    target = changed
    for parent in parents:
        target = target[parent]
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return changed


# ------------------------------------------------------------------ REST klines


def test_recorded_klines_keep_their_rows_exactly() -> None:
    rows = load_binance(REAL_KLINES)
    klines = parse.klines("BTCUSDT", "1m", rows, sent_ms=1712738600000)
    assert [k.row for k in klines] == [tuple(row) for row in rows]
    assert all(isinstance(k.row, tuple) for k in klines)
    assert [type(value) for value in klines[0].row] == [type(value) for value in rows[0]]
    assert {(k.symbol, k.interval, k.update_ms) for k in klines} == {
        ("BTCUSDT", "1m", 1712738600000)
    }


def test_a_kline_is_closed_when_it_ended_before_the_request_was_sent() -> None:
    rows = load_binance(REAL_KLINES)  # closes at …519999, …579999, …639999
    klines = parse.klines("BTCUSDT", "1m", rows, sent_ms=1712738580000)
    assert [k.closed for k in klines] == [True, True, False]
    at_close = parse.klines("BTCUSDT", "1m", rows, sent_ms=1712738579999)
    assert [k.closed for k in at_close] == [True, False, False]


def test_the_docs_example_and_an_empty_answer_parse() -> None:
    (kline,) = parse.klines("BTCUSDT", "1w", load_binance("docs/fapi_v1_klines.docs.json"), NOW_MS)
    assert (kline.open_ms, kline.close_ms, kline.closed) == (1499040000000, 1499644799999, True)
    assert parse.klines("BTCUSDT", "1m", [], NOW_MS) == []


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        (0, "1712738460000", "[0][0]: open time: a string is not a non-negative integer"),
        (0, True, "[0][0]: open time: a boolean is not a non-negative integer"),
        (0, -1, "[0][0]: open time: an integer is not a non-negative integer"),
        (0, 1712738460000.0, "[0][0]: open time: a float is not a non-negative integer"),
        (6, 10**16, "[0][6]: close time: is not a plausible time in ms"),
        (8, "1", "[0][8]: trades: a string is not a non-negative integer"),
        (8, False, "[0][8]: trades: a boolean is not a non-negative integer"),
        (1, 71481.9, "[0][1]: open: a float is not a string"),
        (1, None, "[0][1]: open: null is not a string"),
        (2, "NaN", "[0][2]: high: a string is not a decimal string"),
        (3, "Infinity", "[0][3]: low: a string is not a decimal string"),
        (4, "-1.5", "[0][4]: close: a string is not a decimal string"),
        (5, "1e3", "[0][5]: volume: a string is not a decimal string"),
        (7, "", "[0][7]: quote volume: an empty string is not a decimal string"),
        (10, " 1.0", "[0][10]: taker buy quote volume: a string is not a decimal string"),
        (11, 0, "[0][11]: ignore: an integer is not a string"),
    ],
)
def test_every_bad_kline_field_is_named(field: int, value: Any, problem: str) -> None:
    row = list(kline_row(1712738460000))
    row[field] = value
    message = _malformed(parse.klines, "BTCUSDT", "1m", [row], NOW_MS)
    assert message == f"GET /fapi/v1/klines: {problem}"


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ({"code": -1121, "msg": "Invalid symbol."}, "body: an object is not a list"),
        ("[]", "body: a string is not a list"),
        (None, "body: null is not a list"),
        ([{"t": 1}], "[0]: an object is not a list"),
        (["row"], "[0]: a string is not a list"),
        ([list(kline_row(NOW_MS))[:11]], "[0]: has 11 fields, not 12"),
        ([[*kline_row(NOW_MS), "extra"]], "[0]: has 13 fields, not 12"),
        (
            [[NOW_MS, *kline_row(NOW_MS)[1:6], NOW_MS - 1, *kline_row(NOW_MS)[7:]]],
            "[0]: close time is before open time",
        ),
    ],
)
def test_a_bad_klines_body_is_named(rows: Any, problem: str) -> None:
    assert _malformed(parse.klines, "BTCUSDT", "1m", rows, NOW_MS) == (
        f"GET /fapi/v1/klines: {problem}"
    )


# ------------------------------------------------------------------ REST book, mark, ticker


def test_book_tickers_from_one_object_or_a_list() -> None:
    one = load_binance("docs/fapi_v1_ticker_bookTicker_single.sdk_docs.json")
    expected = BookTicker(
        "BTCUSDT",
        bid=Decimal("4.00000000"),
        bid_qty=Decimal("431.00000000"),
        ask=Decimal("4.00000200"),
        ask_qty=Decimal("9.00000000"),
        update_ms=1589437530011,
    )
    assert parse.book_tickers(one) == [expected]
    assert parse.book_tickers([one, {**one, "symbol": "ETHUSDT"}])[1].symbol == "ETHUSDT"
    assert parse.book_tickers([]) == []


def test_mark_prices_leave_out_contracts_without_funding() -> None:
    one = load_binance("docs/fapi_v1_premiumIndex_single.docs.json")
    expected = MarkPrice(
        "BTCUSDT",
        mark=Decimal("11793.63104562"),
        index=Decimal("11781.80495970"),
        funding_rate=Decimal("0.00038246"),
        next_funding_ms=1597392000000,
        update_ms=1597370495002,
    )
    assert parse.mark_prices(one) == [expected]
    assert parse.mark_prices([DELIVERY_PREMIUM_INDEX, one]) == [expected]
    negative = parse.mark_prices({**one, "lastFundingRate": "-0.00010000"})
    assert negative[0].funding_rate == Decimal("-0.0001")


def test_tickers_are_updated_at_their_close_time() -> None:
    expected = Ticker24h(
        "BTCUSDT",
        last=Decimal("70459.40"),
        open=Decimal("71001.00"),
        high=Decimal("71500.00"),
        low=Decimal("70000.00"),
        volume=Decimal("14.200"),
        quote_volume=Decimal("1006639.71"),
        update_ms=1712738580999,
    )
    assert parse.tickers_24h([TICKER_24H_ROW]) == [expected]
    assert parse.tickers_24h(TICKER_24H_ROW) == [expected]


def test_decimals_decoded_as_decimals_or_integers_are_read_exactly() -> None:
    body = json.loads(json.dumps({**TICKER_24H_ROW, "volume": 14}), parse_float=Decimal)
    body["lastPrice"] = Decimal("70459.40")
    (ticker,) = parse.tickers_24h(body)
    assert (ticker.volume, ticker.last) == (Decimal(14), Decimal("70459.40"))


@pytest.mark.parametrize(
    ("call", "payload", "problem"),
    [
        (parse.book_tickers, "x", "GET /fapi/v1/ticker/bookTicker: body: a string is not a list"),
        (
            parse.book_tickers,
            [1],
            "GET /fapi/v1/ticker/bookTicker: [0]: an integer is not an object",
        ),
        (parse.mark_prices, None, "GET /fapi/v1/premiumIndex: body: null is not a list"),
        (parse.tickers_24h, [[]], "GET /fapi/v1/ticker/24hr: [0]: a list is not an object"),
    ],
)
def test_a_body_of_the_wrong_shape_is_named(call: Any, payload: Any, problem: str) -> None:
    assert _malformed(call, payload) == problem


BOOK_ROW = load_binance("docs/fapi_v1_ticker_bookTicker_single.sdk_docs.json")
MARK_ROW = load_binance("docs/fapi_v1_premiumIndex_single.docs.json")


@pytest.mark.parametrize(
    ("call", "row", "key", "value", "problem"),
    [
        (parse.book_tickers, BOOK_ROW, "bidPrice", ..., "bidPrice: is missing"),
        (
            parse.book_tickers,
            BOOK_ROW,
            "bidQty",
            431.0,
            "bidQty: is a float; decode with parse_float=Decimal",
        ),
        (parse.book_tickers, BOOK_ROW, "askPrice", "NaN", "askPrice: a string is not a decimal"),
        (
            parse.book_tickers,
            BOOK_ROW,
            "askPrice",
            Decimal("Infinity"),
            "askPrice: a Decimal is not a decimal",
        ),
        (parse.book_tickers, BOOK_ROW, "askQty", "-9", "askQty: is negative"),
        (parse.book_tickers, BOOK_ROW, "askQty", True, "askQty: a boolean is not a decimal"),
        (
            parse.book_tickers,
            BOOK_ROW,
            "symbol",
            "",
            "symbol: an empty string is not a non-empty string",
        ),
        (parse.book_tickers, BOOK_ROW, "symbol", 7, "symbol: an integer is not a non-empty string"),
        (parse.book_tickers, BOOK_ROW, "time", -5, "time: an integer is not a time in ms"),
        (parse.book_tickers, BOOK_ROW, "time", True, "time: a boolean is not a time in ms"),
        (parse.book_tickers, BOOK_ROW, "time", 10**16, "time: is not a plausible time in ms"),
        (parse.mark_prices, MARK_ROW, "markPrice", "1E+4", "markPrice: a string is not a decimal"),
        (
            parse.mark_prices,
            MARK_ROW,
            "lastFundingRate",
            None,
            "lastFundingRate: null is not a decimal",
        ),
        (
            parse.mark_prices,
            MARK_ROW,
            "nextFundingTime",
            "soon",
            "nextFundingTime: a string is not a time in ms",
        ),
        (parse.mark_prices, MARK_ROW, "time", ..., "time: is missing"),
        (parse.tickers_24h, TICKER_24H_ROW, "quoteVolume", "-1", "quoteVolume: is negative"),
        (
            parse.tickers_24h,
            TICKER_24H_ROW,
            "closeTime",
            1.5,
            "closeTime: a float is not a time in ms",
        ),
        (parse.tickers_24h, TICKER_24H_ROW, "lastPrice", ..., "lastPrice: is missing"),
    ],
)
def test_every_bad_field_is_named_at_its_index(
    call: Any, row: dict, key: str, value: Any, problem: str
) -> None:
    message = _malformed(call, [row, _with(row, key, value)])
    assert message.endswith(f": [1].{problem}")


# ------------------------------------------------------------------ exchangeInfo


def test_trading_symbols_are_the_trading_perpetuals_of_any_quote() -> None:
    listed = [
        {"symbol": "BTCUSDT", "status": "TRADING", "contractType": "PERPETUAL"},
        {"symbol": "BTCUSDC", "status": "TRADING", "contractType": "PERPETUAL"},
        {"symbol": "BTCUSDT_250328", "status": "TRADING", "contractType": "CURRENT_QUARTER"},
        {"symbol": "LUNAUSDT", "status": "SETTLING", "contractType": "PERPETUAL"},
        {"symbol": "OLDUSDT", "status": "SETTLING", "contractType": ""},
        {"symbol": "币安人生USDT", "status": "TRADING", "contractType": "PERPETUAL"},
        {"symbol": "ETHUSDT", "status": "TRADING", "contractType": "PERPETUAL"},
    ]
    assert parse.trading_symbols({"symbols": listed}) == ["BTCUSDT", "BTCUSDC", "ETHUSDT"]


@pytest.mark.parametrize(
    ("name", "symbols"),
    [
        ("real/fapi_v1_exchangeInfo_excerpt.nautilus_recorded_2022-02-19.json", ["BTCUSDT"]),
        ("docs/fapi_v1_exchangeInfo_excerpt.docs.json", ["BLZUSDT"]),
    ],
)
def test_trading_symbols_of_recorded_exchange_info(name: str, symbols: list[str]) -> None:
    assert parse.trading_symbols(load_binance(name)) == symbols


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "body: a list is not an object"),
        ({}, "symbols: is missing"),
        ({"symbols": {}}, "symbols: an object is not a list"),
        (
            {"symbols": [{"symbol": "A", "contractType": "PERPETUAL"}]},
            "symbols[0].status: is missing",
        ),
        (
            {"symbols": [{"symbol": "A", "status": 1, "contractType": "PERPETUAL"}]},
            "symbols[0].status: an integer is not a string",
        ),
        (
            {"symbols": [{"status": "TRADING", "contractType": "PERPETUAL"}]},
            "symbols[0].symbol: is missing",
        ),
    ],
)
def test_a_bad_exchange_info_is_named(body: Any, problem: str) -> None:
    assert _malformed(parse.trading_symbols, body) == f"GET /fapi/v1/exchangeInfo: {problem}"


# ------------------------------------------------------------------ WebSocket


def test_a_kline_event_rebuilds_binances_rest_row() -> None:
    rows = load_binance(REAL_KLINES)
    kline = parse.stream_event({"stream": "btcusdt@kline_1m", "data": KLINE_EVENT})
    assert kline == Kline("BTCUSDT", "1m", tuple(rows[2]), closed=False, update_ms=1712738581250)
    final = parse.stream_event(_with(KLINE_EVENT, "k.x", True))
    assert isinstance(final, Kline) and final.closed


def test_mark_book_and_ticker_events() -> None:
    assert parse.stream_event(MARK_EVENT) == MarkPrice(
        "BTCUSDT",
        mark=Decimal("11794.15000000"),
        index=Decimal("11784.62659091"),
        funding_rate=Decimal("0.00038167"),
        next_funding_ms=1562306400000,
        update_ms=1562305380000,
    )
    assert parse.stream_event({"stream": "bnbusdt@bookTicker", "data": BOOK_EVENT}) == BookTicker(
        "BNBUSDT",
        bid=Decimal("25.35190000"),
        bid_qty=Decimal("31.21000000"),
        ask=Decimal("25.36520000"),
        ask_qty=Decimal("40.66000000"),
        update_ms=1568014460891,  # the transaction time T, not the event time E
    )
    ticker = parse.stream_event(TICKER_EVENT)
    assert isinstance(ticker, Ticker24h)
    assert (ticker.last, ticker.quote_volume, ticker.update_ms) == (
        Decimal("70459.40"),
        Decimal("1006639.71"),
        1712738581000,
    )


@pytest.mark.parametrize(
    "message",
    [
        {"result": None, "id": 1},
        {"id": 2, "error": {"code": 2, "msg": "Invalid request"}},
        {"e": "aggTrade", "E": 1, "s": "BTCUSDT"},
        {"stream": "btcusdt@depth", "data": {"e": "depthUpdate", "E": 1}},
        _with(MARK_EVENT, "r", ""),  # a delivery contract
    ],
)
def test_what_the_feed_does_not_carry_is_none(message: dict) -> None:
    assert parse.stream_event(message) is None


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ([KLINE_EVENT], "message: a list is not an object"),
        ("{}", "message: a string is not an object"),
        ({}, "e: is missing"),
        ({"stream": "btcusdt@ticker"}, "data: is missing"),
        ({"stream": "btcusdt@ticker", "data": []}, "data: a list is not an object"),
        ({"stream": "x", "data": {"e": None}}, "data.e: null is not a non-empty string"),
        (_with(KLINE_EVENT, "k", "k"), "k: a string is not an object"),
        (_with(KLINE_EVENT, "k.i", "1M"), "k.i: is not a kline interval riskd carries"),
        (_with(KLINE_EVENT, "k.t", ...), "k.t: is missing"),
        (
            _with(KLINE_EVENT, "k.t", "1712738580000"),
            "k.t: open time: a string is not a non-negative integer",
        ),
        (_with(KLINE_EVENT, "k.T", 10**17), "k.T: close time: is not a plausible time in ms"),
        (_with(KLINE_EVENT, "k.n", True), "k.n: trades: a boolean is not a non-negative integer"),
        (_with(KLINE_EVENT, "k.c", 70459.4), "k.c: close: a float is not a string"),
        (
            _with(KLINE_EVENT, "k.q", "Infinity"),
            "k.q: quote volume: a string is not a decimal string",
        ),
        (_with(KLINE_EVENT, "k.x", "false"), "k.x: a string is not a boolean"),
        (_with(KLINE_EVENT, "k.x", ...), "k.x: is missing"),
        (_with(KLINE_EVENT, "E", -1), "E: an integer is not a time in ms"),
        (_with(KLINE_EVENT, "s", ...), "s: is missing"),
        (_with(MARK_EVENT, "p", "nan"), "p: a string is not a decimal"),
        (_with(MARK_EVENT, "T", False), "T: a boolean is not a time in ms"),
        (_with(BOOK_EVENT, "b", "-25.3"), "b: is negative"),
        (_with(BOOK_EVENT, "T", ...), "T: is missing"),
        (_with(TICKER_EVENT, "q", 1.5), "q: is a float; decode with parse_float=Decimal"),
        (
            {"stream": "x", "data": _with(TICKER_EVENT, "E", 10**16)},
            "data.E: is not a plausible time in ms",
        ),
    ],
)
def test_every_bad_event_field_is_named(message: Any, problem: str) -> None:
    assert _malformed(parse.stream_event, message) == f"market stream: {problem}"


def test_untrusted_text_never_reaches_the_message() -> None:
    message = _malformed(parse.stream_event, _with(BOOK_EVENT, "b", "\x1b[2J1"))
    assert "\x1b" not in message
    assert message == "market stream: b: a string is not a decimal"
