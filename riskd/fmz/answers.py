"""FMZ answers: the ``data`` of each method, built from riskd's records and Binance's bodies.

The docker expects HTTP 200 with ``{"data": …, "raw": …}`` (``raw``, the exchange's own answer,
is optional) or ``{"error": "…"}``: :func:`answer` and :func:`error`. The builders return the
``data`` part in the seed's shapes, as plain JSON values, with strings and numbers where the
seed shows them:

- ``ticker``: an object of strings (``time`` too, in ms).
- ``depth``: ``{time, asks, bids}``, ``[price, amount]`` numbers, best price first.
- ``trades``: ``{id, time, price, amount, type}`` numbers and ``buy``/``sell`` (the taker's
  side), newest first as the seed's example.
- ``records``: ``[time_s, open, high, low, close, volume]`` numbers, newest first as the
  seed's example (its first row is 60 s after its second).
- ``accounts``/``assets``: ``{currency, free, frozen}`` strings.
- orders: ``{id, symbol, amount, price, deal_amount, avg_price, type, status}``, numbers
  but for the id, symbol, type and status (the seed shows ``avg_price`` both ways; riskd
  sends a number). ``trade`` answers ``{id}``; ``cancel`` and ``marginlevel`` answer ``true``.

Numbers are whole numbers when whole, else floats: the shortest float text is the decimal text
for any price or amount of up to 15 significant digits.

Where the seed is silent (futures):

- ``positions``: FMZ's Position fields in the seed's spelling (lower case, ``_`` between words,
  as its ``deal_amount`` and ``avg_price`` spell FMZ's DealAmount and AvgPrice):
  ``symbol`` (``BTC_USDT.swap``), ``margin_level``, ``amount`` (positive), ``frozen_amount``,
  ``price`` (the entry), ``profit`` (unrealized), ``type`` (``long``/``short``, as the seed
  writes order types as words), ``contract_type`` (``swap``) and ``margin`` (the initial
  margin: |amount| × mark ÷ margin level unless given).
- Order statuses from Binance's: NEW → ``pending``, PARTIALLY_FILLED → ``partial-filled``,
  FILLED → ``filled``; CANCELED, EXPIRED, EXPIRED_IN_MATCH and REJECTED → ``canceled``, or
  ``partial-canceled`` when some of the order filled.
- ``accounts``: ``free`` is Binance's availableBalance and ``frozen`` the margin in use
  (marginBalance − availableBalance, at least 0).

Binance's depth and trades bodies are read here (:func:`depth`, :func:`trades`) with
``riskd.exchange``'s field readers, and orders by ``riskd.exchange.parse_orders``, so every
problem is a :class:`~riskd.exchange.parse.PayloadError` naming the endpoint and field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from riskd.exchange.parse import PayloadError, _Object, _show
from riskd.exchange.parse_orders import ORDER, OrderRecord, _flag, _id, _items
from riskd.fmz.symbols import SWAP, FmzSymbol, format_order_id, from_binance
from riskd.market.records import BookTicker, KlineRow, Ticker24h
from riskd.positions import BalanceRecord, PositionKey, PositionRecord

DEPTH: Final = "GET /fapi/v1/depth"
TRADES: Final = "GET /fapi/v1/trades"

DONE: Final = True
"""The ``data`` of ``cancel`` and ``marginlevel`` (the seed: no error field means success)."""

ORDER_STATUSES: Final = {"NEW": "pending", "PARTIALLY_FILLED": "partial-filled", "FILLED": "filled"}
ENDED_STATUSES: Final = frozenset({"CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"})
"""Binance statuses of orders that ended unfilled or part filled."""

Number = int | float


def answer(data: object, raw: object = None) -> dict[str, object]:
    """The docker's answer: ``{"data": data}``, with ``raw`` (the exchange's body) if given."""
    return {"data": data} if raw is None else {"data": data, "raw": raw}


def error(message: str) -> dict[str, str]:
    """The docker's answer to a failure: ``{"error": message}``."""
    return {"error": message}


def ticker(symbol: FmzSymbol, book: BookTicker, stats: Ticker24h) -> dict[str, str]:
    """``ticker``: best bid and ask, and the 24 h statistics, as strings; ``time`` is the
    newer of the two records' update times."""
    return {
        "symbol": symbol.fmz,
        "buy": _text(book.bid),
        "sell": _text(book.ask),
        "high": _text(stats.high),
        "low": _text(stats.low),
        "open": _text(stats.open),
        "last": _text(stats.last),
        "vol": _text(stats.volume),
        "time": str(max(book.update_ms, stats.update_ms)),
    }


def depth(body: Mapping[str, Any], limit: int | None = None) -> dict[str, object]:
    """``depth`` from a GET /fapi/v1/depth body, each side cut to *limit* levels; ``time`` is
    Binance's transaction time ``T``."""
    root = _Object.at(DEPTH, "", body)
    return {
        "time": root.time_ms("T"),
        "asks": _levels(root, "asks", limit),
        "bids": _levels(root, "bids", limit),
    }


def trades(body: Sequence[Any], limit: int | None = None) -> list[dict[str, object]]:
    """``trades`` from a GET /fapi/v1/trades body (oldest first): the newest *limit*, newest
    first; ``type`` is the taker's side (a buyer maker means a taker sold)."""
    rows = [
        {
            "id": _id(item, "id"),
            "time": item.time_ms("time"),
            "price": _number(item.decimal("price")),
            "amount": _number(item.decimal("qty")),
            "type": "sell" if _flag(item, "isBuyerMaker") else "buy",
        }
        for item in _items(TRADES, body)
    ]
    rows.sort(key=lambda row: (row["time"], row["id"]), reverse=True)
    return rows[:limit]


def records(rows: Iterable[KlineRow]) -> list[list[Number]]:
    """``records`` from Binance kline rows (``Kline.row``): ``[time_s, o, h, l, c, v]``,
    newest first."""
    ordered = sorted(rows, key=lambda row: int(row[0]), reverse=True)
    return [
        [int(row[0]) // 1000, *(_number(Decimal(row[index])) for index in range(1, 6))]
        for row in ordered
    ]


def balances(records: Iterable[BalanceRecord]) -> list[dict[str, str]]:
    """``accounts`` and ``assets``: each asset's free (available) and frozen (margin in use)
    balance, from GET /fapi/v3/account records (which carry both)."""
    return [_balance(record) for record in records]


def _balance(record: BalanceRecord) -> dict[str, str]:
    if record.available_balance is None or record.margin_balance is None:
        raise ValueError(
            f"balance of {record.asset}: needs the available and margin balance "
            "(GET /fapi/v3/account), not a stream update"
        )
    frozen = max(record.margin_balance - record.available_balance, Decimal(0))
    return {
        "currency": record.asset,
        "free": _text(record.available_balance),
        "frozen": _text(frozen),
    }


def order_status(status: str, executed_qty: Decimal) -> str:
    """FMZ's status of an order Binance reports in *status* with *executed_qty* filled."""
    if status in ORDER_STATUSES:
        return ORDER_STATUSES[status]
    if status in ENDED_STATUSES:
        return "partial-canceled" if executed_qty > 0 else "canceled"
    raise PayloadError(ORDER, "status", f"{status!r} is not a status riskd knows")


def order(order: OrderRecord) -> dict[str, object]:
    """``order``, and each item of ``orders`` and ``historyorders``."""
    symbol = from_binance(order.symbol)
    return {
        "id": format_order_id(symbol, order.order_id),
        "symbol": symbol.pair,
        "amount": _number(order.orig_qty),
        "price": _number(order.price),
        "deal_amount": _number(order.executed_qty),
        "avg_price": _number(order.avg_price),
        "type": order.side.lower(),
        "status": order_status(order.status, order.executed_qty),
    }


def orders(items: Iterable[OrderRecord]) -> list[dict[str, object]]:
    """``orders`` and ``historyorders``."""
    return [order(item) for item in items]


def created(symbol: FmzSymbol, order_id: int) -> dict[str, str]:
    """``trade``: the new order's FMZ id."""
    return {"id": format_order_id(symbol, order_id)}


def position(
    record: PositionRecord,
    *,
    margin_level: int,
    frozen_amount: Decimal = Decimal(0),
    margin: Decimal | None = None,
) -> dict[str, object]:
    """One open position (see the module's docstring); *frozen_amount* is what open closing
    orders hold, *margin* the position's initial margin if Binance reported it."""
    if record.amount == 0:
        raise ValueError(f"position {' '.join(record.key)}: flat, nothing to answer")
    long = record.position_side == "LONG" or (record.position_side == "BOTH" and record.amount > 0)
    amount = abs(record.amount)
    if margin is None:
        price = record.mark_price if record.mark_price is not None else record.entry_price
        margin = amount * price / margin_level
    return {
        "symbol": from_binance(record.symbol, swap=True).fmz,
        "margin_level": margin_level,
        "amount": _number(amount),
        "frozen_amount": _number(frozen_amount),
        "price": _number(record.entry_price),
        "profit": _number(record.unrealized_pnl or Decimal(0)),
        "type": "long" if long else "short",
        "contract_type": SWAP,
        "margin": _number(margin),
    }


def positions(
    records: Iterable[PositionRecord],
    margin_levels: Mapping[str, int],
    frozen_amounts: Mapping[PositionKey, Decimal] | None = None,
) -> list[dict[str, object]]:
    """``positions``: every open position of *records*, with its symbol's margin level (by
    Binance symbol) and the amount open closing orders hold (by position key, default 0)."""
    frozen = frozen_amounts or {}
    return [
        position(
            record,
            margin_level=margin_levels[record.symbol],
            frozen_amount=frozen.get(record.key, Decimal(0)),
        )
        for record in records
        if record.amount != 0
    ]


def _levels(root: _Object, key: str, limit: int | None) -> list[list[Number]]:
    value = root.data.get(key)
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise root.error(key, f"{_show(value)} is not a list")
    levels = []
    for index, level in enumerate(value[:limit]):
        if isinstance(level, str | bytes) or not isinstance(level, Sequence) or len(level) != 2:
            raise root.error(f"{key}[{index}]", f"{_show(level)} is not a [price, amount] pair")
        pair = _Object(DEPTH, f"{key}[{index}]", {"price": level[0], "amount": level[1]})
        levels.append([_number(pair.decimal("price")), _number(pair.decimal("amount"))])
    return levels


def _number(value: Decimal) -> Number:
    """*value* as a JSON number: an int when whole, else the float nearest to it."""
    return int(value) if value == value.to_integral_value() else float(value)


def _text(value: Decimal) -> str:
    """*value* as plain decimal text without trailing zeros: ``3000``, ``0.2482982056277609``."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
