"""Binance's market-data answers (REST and WebSocket) as records.

Decimals are read as in ``riskd.exchange.parse``: JSON strings, integers or Decimals, never
floats, NaN, infinities or exponents; prices, quantities and volumes are never negative. A
kline row is kept exactly as Binance sends it (it is served to robots and stored as is), so
its times and trade count must be JSON integers and its amounts decimal strings. Every problem
raises MalformedResponse naming the endpoint (or ``market stream``) and the field path, never
the value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, ParamSpec, TypeVar

from riskd.exchange.errors import MalformedResponse
from riskd.exchange.parse import PayloadError, _Object, _show
from riskd.market.records import (
    INTERVAL_MS,
    SYMBOL_PATTERN,
    BookTicker,
    Kline,
    KlineRow,
    MarkPrice,
    Record,
    Ticker24h,
)

KLINES: Final = "GET /fapi/v1/klines"
BOOK_TICKER: Final = "GET /fapi/v1/ticker/bookTicker"
PREMIUM_INDEX: Final = "GET /fapi/v1/premiumIndex"
TICKER_24H: Final = "GET /fapi/v1/ticker/24hr"
EXCHANGE_INFO: Final = "GET /fapi/v1/exchangeInfo"
MARKET_STREAM: Final = "market stream"

LATEST_MS: Final = 4_102_444_800_000
"""2100-01-01: a later time in a market record is garbage, not the future."""

_ROW_FIELDS: Final = (
    "open time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close time",
    "quote volume",
    "trades",
    "taker buy volume",
    "taker buy quote volume",
    "ignore",
)
_OPEN_TIME, _CLOSE_TIME, _TRADES, _IGNORED = 0, 6, 8, 11
_ROW_TIMES: Final = frozenset({_OPEN_TIME, _CLOSE_TIME})
_ROW_INTEGERS: Final = frozenset({_OPEN_TIME, _CLOSE_TIME, _TRADES})
_AMOUNT_TEXT: Final = re.compile(r"[0-9]+(\.[0-9]+)?")

# Where each record's fields are, in the order of its constructor: REST keys, stream keys.
_BOOK_REST: Final = ("symbol", "bidPrice", "bidQty", "askPrice", "askQty", "time")
_BOOK_STREAM: Final = ("s", "b", "B", "a", "A", "T")
_MARK_REST: Final = (
    "symbol",
    "markPrice",
    "indexPrice",
    "lastFundingRate",
    "nextFundingTime",
    "time",
)
_MARK_STREAM: Final = ("s", "p", "i", "r", "T", "E")
_TICKER_REST: Final = (
    "symbol",
    "lastPrice",
    "openPrice",
    "highPrice",
    "lowPrice",
    "volume",
    "quoteVolume",
    "closeTime",
)
_TICKER_STREAM: Final = ("s", "c", "o", "h", "l", "v", "q", "E")
_KLINE_STREAM_ROW: Final = ("t", "o", "h", "l", "c", "v", "T", "q", "n", "V", "Q", "B")
"""The kline event's ``k`` keys that make up Binance's REST row, in its order."""

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _malformed(parse: Callable[_P, _T]) -> Callable[_P, _T]:
    """Report the house parser's PayloadError as a MalformedResponse of the endpoint."""

    @functools.wraps(parse)
    def parse_or_raise(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return parse(*args, **kwargs)
        except PayloadError as exc:
            raise MalformedResponse(exc.endpoint, f"{exc.path}: {exc.problem}") from None

    return parse_or_raise


# ------------------------------------------------------------------ REST


@_malformed
def klines(symbol: str, interval: str, rows: Any, sent_ms: int) -> list[Kline]:
    """A GET /fapi/v1/klines body. REST klines carry no update time: the request's send time
    (server clock), a lower bound of when Binance read them, stands in for it. A kline that
    closed before then was final when read."""
    parsed = []
    for index, value in enumerate(_list(KLINES, "body", rows)):
        paths = [f"[{index}][{field}]" for field in range(len(_ROW_FIELDS))]
        row = _row(KLINES, f"[{index}]", value, paths)
        parsed.append(
            Kline(symbol, interval, row, closed=row[_CLOSE_TIME] < sent_ms, update_ms=sent_ms)
        )
    return parsed


@_malformed
def book_tickers(payload: Any) -> list[BookTicker]:
    """A GET /fapi/v1/ticker/bookTicker body: one symbol's object, or a list of them."""
    return [_book(item, _BOOK_REST) for item in _objects(BOOK_TICKER, payload)]


@_malformed
def mark_prices(payload: Any) -> list[MarkPrice]:
    """A GET /fapi/v1/premiumIndex body (one object or a list). Delivery contracts, which have
    no funding (``lastFundingRate`` ""), are left out: the feed carries perpetuals."""
    marks = (_mark(item, _MARK_REST) for item in _objects(PREMIUM_INDEX, payload))
    return [mark for mark in marks if mark is not None]


@_malformed
def tickers_24h(payload: Any) -> list[Ticker24h]:
    """A GET /fapi/v1/ticker/24hr body (one object or a list), updated at its ``closeTime``."""
    return [_ticker(item, _TICKER_REST) for item in _objects(TICKER_24H, payload)]


@_malformed
def trading_symbols(exchange_info: Any) -> list[str]:
    """The perpetual contracts exchangeInfo lists as TRADING, of any quote asset, in its
    order. Symbols outside SYMBOL_PATTERN, which stream names and the gateway's paths rely
    on, are left out."""
    if not isinstance(exchange_info, Mapping):
        raise PayloadError(EXCHANGE_INFO, "body", f"{_show(exchange_info)} is not an object")
    return [
        symbol
        for item in _Object(EXCHANGE_INFO, "", exchange_info).objects("symbols")
        if _text(item, "status") == "TRADING"
        and _text(item, "contractType") == "PERPETUAL"
        and SYMBOL_PATTERN.fullmatch(symbol := item.text("symbol"))
    ]


# ------------------------------------------------------------------ WebSocket


@_malformed
def stream_event(message: Any) -> Record | None:
    """One combined-stream message (``{"stream", "data"}``) or raw event as its record; None
    for a reply to a request (``{"result": null, "id": 1}``) and for events the feed does
    not carry."""
    if not isinstance(message, Mapping):
        raise PayloadError(MARKET_STREAM, "message", f"{_show(message)} is not an object")
    root = _Object(MARKET_STREAM, "", message)
    if "stream" in message:
        event = root.object("data")
    elif "id" in message and "e" not in message:
        return None
    else:
        event = root
    parse = _EVENTS.get(event.text("e"))
    return parse(event) if parse else None


def _kline_event(event: _Object) -> Kline:
    k = event.object("k")
    interval = k.text("i")
    if interval not in INTERVAL_MS:
        raise k.error("i", "is not a kline interval riskd carries")
    values = [k._get(key) for key in _KLINE_STREAM_ROW]
    row = _row(MARKET_STREAM, k.path, values, [f"{k.path}.{key}" for key in _KLINE_STREAM_ROW])
    closed = k._get("x")
    if not isinstance(closed, bool):
        raise k.error("x", f"{_show(closed)} is not a boolean")
    return Kline(event.text("s"), interval, row, closed=closed, update_ms=_time_ms(event, "E"))


_EVENTS: Final[dict[str, Callable[[_Object], Record | None]]] = {
    "kline": _kline_event,
    "markPriceUpdate": lambda event: _mark(event, _MARK_STREAM),
    "bookTicker": lambda event: _book(event, _BOOK_STREAM),
    "24hrTicker": lambda event: _ticker(event, _TICKER_STREAM),
}


# ------------------------------------------------------------------ shared shapes


def _row(endpoint: str, path: str, row: Any, paths: Sequence[str]) -> KlineRow:
    """A kline row checked field by field, as a tuple of exactly what was sent; *paths* name
    its fields in errors."""
    if isinstance(row, str | bytes) or not isinstance(row, Sequence):
        raise PayloadError(endpoint, path, f"{_show(row)} is not a list")
    if len(row) != len(_ROW_FIELDS):
        raise PayloadError(endpoint, path, f"has {len(row)} fields, not {len(_ROW_FIELDS)}")
    for index, value in enumerate(row):
        problem = _row_problem(index, value)
        if problem:
            raise PayloadError(endpoint, paths[index], f"{_ROW_FIELDS[index]}: {problem}")
    if row[_CLOSE_TIME] < row[_OPEN_TIME]:
        raise PayloadError(endpoint, path, "close time is before open time")
    return tuple(row)


def _row_problem(index: int, value: Any) -> str | None:
    if index in _ROW_INTEGERS:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"{_show(value)} is not a non-negative integer"
        if index in _ROW_TIMES and value > LATEST_MS:
            return "is not a plausible time in ms"
    elif not isinstance(value, str):
        return f"{_show(value)} is not a string"
    elif index != _IGNORED and not _AMOUNT_TEXT.fullmatch(value):
        return f"{_show(value)} is not a decimal string"
    return None


def _book(item: _Object, keys: tuple[str, ...]) -> BookTicker:
    symbol, bid, bid_qty, ask, ask_qty, update = keys
    return BookTicker(
        symbol=item.text(symbol),
        bid=_amount(item, bid),
        bid_qty=_amount(item, bid_qty),
        ask=_amount(item, ask),
        ask_qty=_amount(item, ask_qty),
        update_ms=_time_ms(item, update),
    )


def _mark(item: _Object, keys: tuple[str, ...]) -> MarkPrice | None:
    """None for a delivery contract: Binance shows its funding rate as ""."""
    symbol, mark, index, funding, next_funding, update = keys
    if item.data.get(funding) == "":
        return None
    return MarkPrice(
        symbol=item.text(symbol),
        mark=_amount(item, mark),
        index=_amount(item, index),
        funding_rate=item.decimal(funding),
        next_funding_ms=_time_ms(item, next_funding),
        update_ms=_time_ms(item, update),
    )


def _ticker(item: _Object, keys: tuple[str, ...]) -> Ticker24h:
    symbol, last, open_, high, low, volume, quote_volume, update = keys
    return Ticker24h(
        symbol=item.text(symbol),
        last=_amount(item, last),
        open=_amount(item, open_),
        high=_amount(item, high),
        low=_amount(item, low),
        volume=_amount(item, volume),
        quote_volume=_amount(item, quote_volume),
        update_ms=_time_ms(item, update),
    )


def _objects(endpoint: str, payload: Any) -> tuple[_Object, ...]:
    """A body that is one object, or a list of them (the every-symbol answer)."""
    if isinstance(payload, Mapping):
        return (_Object(endpoint, "", payload),)
    return tuple(
        _Object.at(endpoint, f"[{index}]", item)
        for index, item in enumerate(_list(endpoint, "body", payload))
    )


def _list(endpoint: str, path: str, value: Any) -> Sequence[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise PayloadError(endpoint, path, f"{_show(value)} is not a list")
    return value


def _amount(item: _Object, key: str) -> Decimal:
    """A price, quantity or volume: a decimal that is not negative."""
    value = item.decimal(key)
    if value < 0:
        raise item.error(key, "is negative")
    return value


def _time_ms(item: _Object, key: str) -> int:
    value = item.time_ms(key)
    if value > LATEST_MS:
        raise item.error(key, "is not a plausible time in ms")
    return value


def _text(item: _Object, key: str) -> str:
    """A string that may be empty (exchangeInfo's ``contractType`` of a settled contract)."""
    value = item._get(key)
    if not isinstance(value, str):
        raise item.error(key, f"{_show(value)} is not a string")
    return value
