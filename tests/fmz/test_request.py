import json
import re
from decimal import Decimal

import pytest

from riskd.core.bodies import shown
from riskd.core.secrets import Secret
from riskd.fmz.request import (
    PERIODS,
    FmzRequest,
    HistoryParams,
    HttpMethod,
    MarginLevelParams,
    MarketParams,
    Method,
    NoParams,
    OrderParams,
    PositionsParams,
    RawParams,
    RecordsParams,
    RequestError,
    Side,
    SymbolParams,
    TradeParams,
    parse_request,
)
from riskd.fmz.symbols import FmzSymbol, OrderRef
from tests.kit import fmz
from tests.kit.fmz import NONCE_MS, ROBOT, TOKEN, fmz_body

BTC = FmzSymbol("BTC", "USDT")
ETH = FmzSymbol("ETH", "USDT")
BTC_SWAP = FmzSymbol("BTC", "USDT", swap=True)


def _params(method: str, params: object = None, header: str | None = None) -> object:
    return parse_request(fmz_body(method, params), header).params


def _refused(body: bytes, error: str, header: str | None = None) -> None:
    with pytest.raises(RequestError, match=f"^{re.escape(error)}$"):
        parse_request(body, header)


def _refused_params(method: str, params: object, error: str) -> None:
    _refused(fmz_body(method, params), error)


# --- the envelope -----------------------------------------------------------------------------


def test_the_articles_ticker_request_is_read() -> None:
    request = parse_request(fmz_body("ticker", {"symbol": "LTC_USDT"}), None)
    assert request == FmzRequest(
        robot=ROBOT,
        token=Secret(TOKEN),
        method=Method.TICKER,
        nonce_ms=NONCE_MS,
        params=SymbolParams(FmzSymbol("LTC", "USDT")),
    )


def test_the_token_never_shows() -> None:
    request = parse_request(fmz_body("accounts"), None)
    assert TOKEN not in repr(request) and TOKEN not in str(request)
    assert request.token.reveal() == TOKEN


def test_unknown_top_level_keys_are_ignored_and_unread_params_too() -> None:
    body = fmz_body("ticker", {"symbol": "BTC_USDT", "limit": "x", "extra": [1]}, version=2)
    assert parse_request(body, None).params == SymbolParams(BTC)


@pytest.mark.parametrize(
    ("nonce", "ms"),
    [
        (NONCE_MS, NONCE_MS),  # ms
        (str(NONCE_MS), NONCE_MS),
        (NONCE_MS * 1000 + 999, NONCE_MS),  # µs
        (fmz.NONCE_NS, NONCE_MS),  # ns, as the article's docker sends
        (str(fmz.NONCE_NS), NONCE_MS),
        (float(NONCE_MS), NONCE_MS),
        (10**12, 10**12),
        (2**63 - 1, (2**63 - 1) // 10**6),
    ],
)
def test_the_nonce_is_read_in_ms_us_or_ns(nonce: object, ms: int) -> None:
    assert parse_request(fmz_body("accounts", nonce=nonce), None).nonce_ms == ms


NONCE_ERROR = (
    "nonce: must be the epoch time in ms (13 digits), µs (16 digits), ns (19 digits), not {}"
)


@pytest.mark.parametrize(
    "nonce",
    [
        1730275031,
        NONCE_MS * 10,
        NONCE_MS * 100,
        10**12 - 1,
        2**63,
        -NONCE_MS,
        0,
        "abc",
        "1730275031047.5",
        1.5e12 + 0.5,
        True,
        [NONCE_MS],
        " 1730275031047",
    ],
)
def test_absurd_nonces_are_refused(nonce: object) -> None:
    _refused(fmz_body("accounts", nonce=nonce), NONCE_ERROR.format(repr(nonce)))


@pytest.mark.parametrize("key", ["access_key", "secret_key", "method", "nonce", "params"])
def test_each_envelope_field_is_required(key: str) -> None:
    body = json.loads(fmz_body("accounts"))
    body[key] = None
    _refused(json.dumps(body).encode(), f"{key}: required")
    del body[key]
    _refused(json.dumps(body).encode(), f"{key}: required")


@pytest.mark.parametrize(
    ("top", "error"),
    [
        (
            {"access_key": "no spaces"},
            "access_key: must be a robot's name (1 to 16 letters, "
            "digits, '-' or '_'), not a string of 9 characters",
        ),
        (
            {"access_key": "a" * 17},
            "access_key: must be a robot's name (1 to 16 letters, "
            "digits, '-' or '_'), not a string of 17 characters",
        ),
        (
            {"access_key": 7},
            "access_key: must be a robot's name (1 to 16 letters, digits, '-' or '_'), "
            "not a number",
        ),
        ({"secret_key": ""}, "secret_key: must be the robot's token, a non-empty string"),
        ({"secret_key": 12345}, "secret_key: must be the robot's token, a non-empty string"),
        ({"secret_key": "tok\n"}, "secret_key: must be printable and at most 512 characters"),
        ({"secret_key": "t" * 513}, "secret_key: must be printable and at most 512 characters"),
        ({"params": [1]}, "params: must be an object, not a list"),
        ({"params": "symbol=BTC_USDT"}, "params: must be an object, not 'symbol=BTC_USDT'"),
    ],
)
def test_bad_envelope_fields_are_refused(top: dict, error: str) -> None:
    _refused(fmz_body("accounts", **top), error)


def test_a_bad_token_is_refused_without_showing_it() -> None:
    with pytest.raises(RequestError) as caught:
        parse_request(fmz_body("accounts", secret_key="sekret\x00"), None)
    assert "sekret" not in str(caught.value)


def test_a_token_sent_as_the_access_key_is_refused_without_showing_it() -> None:
    """A docker given its keys the wrong way round (issue 19's audit found the token in the
    answer, which FMZ shows in the robot's log)."""
    token = "tok-0123456789abcdef0123"
    with pytest.raises(RequestError) as caught:
        parse_request(fmz_body("accounts", access_key=token, secret_key="r1"), None)
    assert "access_key" in str(caught.value) and "0123456789" not in str(caught.value)


METHODS = (
    "ticker, depth, trades, records, accounts, assets, trade, orders, order, historyorders, "
    "cancel, positions, marginlevel or __api_<path>"
)


@pytest.mark.parametrize("method", ["GetTicker", "Ticker", "tickers", "markets", "", 5, "__api_"])
def test_unknown_methods_are_refused_listing_the_known(method: object) -> None:
    _refused(
        fmz_body(method),
        f"method: must be one of {METHODS}, not {method!r}"
        if method != "__api_"
        else "method: __api_ must be followed by a Binance USDⓈ-M "
        "path like /fapi/v1/order (the query goes in params), not '__api_'",
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[]", "the body must be a JSON object"),
        (b'"ticker"', "the body must be a JSON object"),
        (
            b"{",
            "the body is not JSON: Expecting property name enclosed in double quotes at "
            "character 1",
        ),
        (b'{"method": "ticker", "method": "depth"}', "'method': given more than once"),
        (b"\xff", "the body is not UTF-8 (byte 0)"),
        (b" " * (64 * 1024 + 1), "the body is larger than 65536 bytes"),
    ],
)
def test_bodies_that_are_not_one_json_object_are_refused(body: bytes, error: str) -> None:
    _refused(body, error)


# --- each method's params ---------------------------------------------------------------------


def test_the_articles_requests_are_read() -> None:
    assert _params("ticker", fmz.TICKER_PARAMS) == SymbolParams(ETH)
    assert _params("depth", fmz.DEPTH_PARAMS) == MarketParams(ETH, 30)
    assert _params("trades", fmz.TRADES_PARAMS) == MarketParams(ETH, None)
    assert _params("records", fmz.RECORDS_PARAMS) == RecordsParams(ETH, 60, 500)
    assert _params("accounts", fmz.ACCOUNTS_PARAMS) == NoParams()
    assert _params("assets", fmz.ACCOUNTS_PARAMS) == NoParams()
    assert _params("trade", fmz.TRADE_PARAMS) == TradeParams(
        BTC, Side.BUY, Decimal("1000"), Decimal("0.1")
    )
    assert _params("orders", fmz.ORDERS_PARAMS) == SymbolParams(ETH)
    assert _params("order", fmz.ORDER_PARAMS) == OrderParams(OrderRef(ETH, 123456))
    assert _params("historyorders", fmz.HISTORY_ORDERS_PARAMS) == HistoryParams(ETH, None, None)
    assert _params("cancel", fmz.CANCEL_PARAMS) == OrderParams(OrderRef(ETH, 123456))


@pytest.mark.parametrize(
    "method",
    ["ticker", "orders", "depth", "trades", "records", "trade", "historyorders", "marginlevel"],
)
@pytest.mark.parametrize("symbol", [None, {}, "USDT", "BTC_EUR", "BTC_USDT.quarter"])
def test_every_method_with_a_symbol_requires_a_good_one(method: str, symbol: object) -> None:
    params = {"symbol": symbol} if symbol is not None else {}
    with pytest.raises(RequestError, match=r"^params\.symbol: "):
        _params(method, params)


@pytest.mark.parametrize(("method", "high"), [("depth", 1000), ("trades", 1000)])
def test_depth_and_trades_take_a_limit(method: str, high: int) -> None:
    for limit, read in [(5, 5), ("30", 30), (high, high), (0, None), ("0", None), (30.0, 30)]:
        assert _params(method, {"symbol": "BTC_USDT", "limit": limit}) == MarketParams(BTC, read)
    for limit in [high + 1, -1, "abc", "1.5", 2.5, True, [5]]:
        _refused_params(
            method,
            {"symbol": "BTC_USDT", "limit": limit},
            f"params.limit: must be a whole number, 0 or 1 to {high}, not {limit!r}",
        )


@pytest.mark.parametrize(("minutes", "interval"), list(PERIODS.items()))
def test_records_periods_are_binance_intervals_in_minutes(minutes: int, interval: str) -> None:
    params = _params("records", {"symbol": "BTC_USDT", "period": str(minutes)})
    assert params == RecordsParams(BTC, minutes, None)
    assert params.interval == interval
    assert _params("records", {"symbol": "BTC_USDT", "period": minutes}) == params


def test_records_periods_are_the_binance_intervals_with_fixed_lengths() -> None:
    assert list(PERIODS) == [1, 3, 5, 15, 30, 60, 120, 240, 360, 480, 720, 1440, 4320, 10080]


@pytest.mark.parametrize("period", [None, 2, "90", 0, "1h", 60.5, True, 43200])
def test_records_refuse_other_periods(period: object) -> None:
    params = {"symbol": "BTC_USDT", "period": period}
    error = (
        "params.period: required"
        if period is None
        else "params.period: must be minutes, one of 1, 3, 5, 15, 30, 60, 120, 240, 360, 480, "
        f"720, 1440, 4320, 10080, not {period!r}"
    )
    _refused_params("records", params, error)


def test_records_limit_goes_to_1500() -> None:
    params = {"symbol": "BTC_USDT", "period": 1, "limit": 1500}
    assert _params("records", params) == RecordsParams(BTC, 1, 1500)
    _refused_params(
        "records",
        {**params, "limit": 1501},
        "params.limit: must be a whole number, 0 or 1 to 1500, not 1501",
    )


@pytest.mark.parametrize(
    ("price", "amount", "parsed_price", "parsed_amount"),
    [
        ("1000", "0.1", Decimal("1000"), Decimal("0.1")),
        (1000, 0.1, Decimal("1000"), Decimal("0.1")),
        (60000.5, 1e-8, Decimal("60000.5"), Decimal("1E-8")),
        ("1E+3", "1e-3", Decimal("1E+3"), Decimal("0.001")),
        ("-1", "2", None, Decimal("2")),  # FMZ's market order
        (-1, 2, None, Decimal("2")),
        (0, "0.001", None, Decimal("0.001")),
        (".5", "5.", Decimal("0.5"), Decimal("5")),
    ],
)
def test_trade_reads_numbers_as_json_numbers_or_strings(
    price: object, amount: object, parsed_price: Decimal | None, parsed_amount: Decimal
) -> None:
    params = _params(
        "trade", {"symbol": "BTC_USDT", "type": "sell", "price": price, "amount": amount}
    )
    assert params == TradeParams(BTC, Side.SELL, parsed_price, parsed_amount)


@pytest.mark.parametrize(
    ("side", "binance", "reduce_only"),
    [
        ("buy", "BUY", False),
        ("sell", "SELL", False),
        ("closebuy", "SELL", True),
        ("closesell", "BUY", True),
    ],
)
def test_trade_sides_include_fmzs_closing_directions(
    side: str, binance: str, reduce_only: bool
) -> None:
    params = _params("trade", {**fmz.TRADE_PARAMS, "type": side})
    assert isinstance(params, TradeParams)
    assert (params.side.binance, params.side.reduce_only) == (binance, reduce_only)


TRADE = fmz.TRADE_PARAMS


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"amount": "abc"}, "params.amount: must be a positive number, not 'abc'"),
        ({"amount": "0"}, "params.amount: must be a positive number, not '0'"),
        ({"amount": -0.1}, "params.amount: must be a positive number, not -0.1"),
        ({"amount": None}, "params.amount: required"),
        ({"amount": True}, "params.amount: must be a positive number, not True"),
        ({"amount": "NaN"}, "params.amount: must be a positive number, not 'NaN'"),
        ({"amount": float("inf")}, "params.amount: must be a positive number, not inf"),
        ({"amount": " 1"}, "params.amount: must be a positive number, not ' 1'"),
        ({"amount": "1,5"}, "params.amount: must be a positive number, not '1,5'"),
        ({"amount": "0x10"}, "params.amount: must be a positive number, not '0x10'"),
        ({"amount": "١"}, "params.amount: must be a positive number, not '١'"),
        ({"amount": [1]}, "params.amount: must be a positive number, not [1]"),
        (
            {"amount": "1e300"},
            "params.amount: must be a positive number below "
            "1,000,000,000,000,000 with at most 18 decimals, not '1e300'",
        ),
        (
            {"amount": "1e-19"},
            "params.amount: must be a positive number below "
            "1,000,000,000,000,000 with at most 18 decimals, not '1e-19'",
        ),
        ({"amount": "1" * 65}, f"params.amount: must be a positive number, not {shown('1' * 65)}"),
        ({"price": "abc"}, "params.price: must be a number, not 'abc'"),
        ({"price": None}, "params.price: required"),
        (
            {"price": "-1e16"},
            "params.price: must be a number below 1,000,000,000,000,000 with "
            "at most 18 decimals, not '-1e16'",
        ),
        ({"type": "Buy"}, "params.type: must be buy, sell, closebuy, closesell, not 'Buy'"),
        ({"type": "long"}, "params.type: must be buy, sell, closebuy, closesell, not 'long'"),
        ({"type": None}, "params.type: required"),
        ({"symbol": None}, "params.symbol: required"),
        ({"intended": "yes"}, "params.intended: must be true or false, not 'yes'"),
    ],
)
def test_trade_refuses_bad_fields_naming_them(change: dict, error: str) -> None:
    params = {key: value for key, value in {**TRADE, **change}.items() if value is not None}
    _refused_params("trade", params, error)


@pytest.mark.parametrize("method", ["order", "cancel"])
@pytest.mark.parametrize(
    ("params", "ref"),
    [
        ({"id": "BTC_USDT,7"}, OrderRef(BTC, 7)),
        ({"id": "BTC-USDT,7", "symbol": "btc_usdt.swap"}, OrderRef(BTC_SWAP, 7)),
        ({"id": 7, "symbol": "BTC_USDT"}, OrderRef(BTC, 7)),
        ({"id": "7", "symbol": "BTC_USDT"}, OrderRef(BTC, 7)),
    ],
)
def test_order_and_cancel_name_an_order(method: str, params: dict, ref: OrderRef) -> None:
    assert _params(method, params) == OrderParams(ref)


@pytest.mark.parametrize("method", ["order", "cancel"])
@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({}, "params.id: required"),
        ({"id": "7"}, "params.symbol: required when params.id is a bare order id"),
        (
            {"id": "ETH_USDT,7", "symbol": "BTC_USDT"},
            "params.symbol: BTC_USDT is not the symbol of order ETH_USDT,7",
        ),
        (
            {"id": "BTC_USDT,x"},
            "params.id: must be an order id like BTC_USDT,123456 (the order a "
            "positive integer), not 'BTC_USDT,x'",
        ),
        (
            {"id": 7, "symbol": "USDT"},
            "params.symbol: 'USDT' is incomplete: name the base and "
            "the quote currency, like BTC_USDT",
        ),
    ],
)
def test_order_and_cancel_refuse_what_names_no_order(method: str, params: dict, error: str) -> None:
    _refused_params(method, params, error)


def test_historyorders_reads_since_and_limit() -> None:
    params = {"symbol": "BTC_USDT", "since": "1700000000000", "limit": 50}
    assert _params("historyorders", params) == HistoryParams(BTC, 1_700_000_000_000, 50)
    assert _params("historyorders", {"symbol": "BTC_USDT"}) == HistoryParams(BTC, None, None)
    _refused_params(
        "historyorders",
        {**params, "since": -1},
        "params.since: must be a whole number, 0 or 1 to 253402300799999, not -1",
    )
    _refused_params(
        "historyorders",
        {**params, "limit": 1001},
        "params.limit: must be a whole number, 0 or 1 to 1000, not 1001",
    )


@pytest.mark.parametrize(
    ("params", "parsed"),
    [
        ({}, PositionsParams()),
        ({"symbol": "BTC_USDT.swap"}, PositionsParams(symbol=FmzSymbol("BTC", "USDT", True))),
        ({"symbol": "eth_usdt"}, PositionsParams(symbol=ETH)),
        ({"symbol": "USDT.swap"}, PositionsParams(quote="USDT")),
        ({"symbol": "usdc"}, PositionsParams(quote="USDC")),
    ],
)
def test_positions_of_a_symbol_a_quote_or_all(params: dict, parsed: PositionsParams) -> None:
    assert _params("positions", params) == parsed
    assert _params("position", params) == parsed


def test_positions_refuse_a_bad_symbol() -> None:
    _refused_params(
        "positions",
        {"symbol": "EUR.swap"},
        "params.symbol: must be BASE_QUOTE in letters and digits, like BTC_USDT, not 'EUR.swap'",
    )


def test_marginlevel_sets_a_symbols_leverage() -> None:
    for method in ("marginlevel", "setmarginlevel"):
        params = _params(method, {"symbol": "BTC_USDT", "marginLevel": "20"})
        assert params == MarginLevelParams(BTC, 20)
    for level in [0, 126, "x", 2.5]:
        _refused_params(
            "marginlevel",
            {"symbol": "BTC_USDT", "marginLevel": level},
            f"params.marginLevel: must be a whole number from 1 to 125, not {level!r}",
        )
    _refused_params("marginlevel", {"symbol": "BTC_USDT"}, "params.marginLevel: required")


# --- raw calls ----------------------------------------------------------------------------------


def test_raw_calls_carry_path_http_method_and_params_as_text() -> None:
    params = {"symbol": "BTCUSDT", "limit": 5, "reduceOnly": True, "price": 0.1, "qty": "1"}
    request = parse_request(fmz_body("__api_/fapi/v1/openOrders", params), "get")
    assert request.method is Method.RAW
    assert request.params == RawParams(
        "/fapi/v1/openOrders",
        HttpMethod.GET,
        (
            ("symbol", "BTCUSDT"),
            ("limit", "5"),
            ("reduceOnly", "true"),
            ("price", "0.1"),
            ("qty", "1"),
        ),
    )
    assert _params("__api_/futures/data/openInterestHist", {}, "POST") == RawParams(
        "/futures/data/openInterestHist", HttpMethod.POST, ()
    )
    big = _params("__api_/fapi/v1/order", {"orderId": 8389765519173232283, "x": 1e-8}, "DELETE")
    assert big == RawParams(
        "/fapi/v1/order",
        HttpMethod.DELETE,
        (("orderId", "8389765519173232283"), ("x", "0.00000001")),
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v3/order",
        "/fapi/v1/order?symbol=BTCUSDT",
        "/fapi/../sapi/v1",
        "fapi/v1/order",
        "/fapi/v1/",
        "/fapi/v0/x",
        "/sapi/v1/account",
    ],
)
def test_raw_paths_must_be_usdm_paths(path: str) -> None:
    _refused(
        fmz_body(f"__api_{path}"),
        "method: __api_ must be followed by a Binance USDⓈ-M path like /fapi/v1/order (the "
        f"query goes in params), not {'__api_' + path!r}",
        "GET",
    )


@pytest.mark.parametrize("header", [None, "", "PATCH", "gét", "GET "])
def test_raw_calls_need_an_http_method(header: str | None) -> None:
    _refused(
        fmz_body("__api_/fapi/v1/time"),
        f"Http-Method header: must be GET, POST, PUT, DELETE for __api_ methods, not {header!r}",
        header,
    )


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"signature": "x"}, "params.signature: riskd sets it; leave it out"),
        ({"timestamp": 1}, "params.timestamp: riskd sets it; leave it out"),
        ({"a b": 1}, "params: 'a b' is not a Binance parameter name"),
        ({"x": {"y": 1}}, "params.x: must be a string, number or boolean, not an object"),
        ({"x": [1]}, "params.x: must be a string, number or boolean, not a list"),
        ({"x": "a\nb"}, "params.x: must be a string, number or boolean, not 'a\\nb'"),
        ({"x": float("nan")}, "params.x: must be a string, number or boolean, not nan"),
    ],
)
def test_raw_params_are_flat_and_leave_signing_to_riskd(params: dict, error: str) -> None:
    _refused(fmz_body("__api_/fapi/v1/order", params), error, "POST")


def test_the_http_method_header_matters_only_for_raw_calls() -> None:
    assert _params("ticker", {"symbol": "BTC_USDT"}, "PATCH") == SymbolParams(BTC)
