"""What the FMZ docker POSTs to ``/fmz/{label}``, read and checked before anything is sent.

The body is a JSON object ``{"access_key", "secret_key", "method", "nonce", "params"}``:

- ``access_key`` is the robot's name, ``secret_key`` its token (kept in a
  :class:`~riskd.core.secrets.Secret`). Whether the two belong together is the route's check.
- ``method`` is one of :class:`Method`'s values, or ``__api_<path>`` for a raw Binance call
  (FMZ's ``exchange.IO("api", …)``), whose HTTP method is in the ``Http-Method`` header.
- ``nonce`` is the docker's clock, an integer (or a string of digits) in milliseconds,
  microseconds or nanoseconds (the seed's docker sends ns); the magnitude tells which.
- ``params`` is an object; each method reads its fields as :func:`parse_request` documents.

Top-level keys besides these five are ignored (the docker may add some); within ``params``
every field a method reads is checked strictly and fields it does not read are ignored.
Numbers may be JSON numbers or strings of them (the docker sends both); ids likewise. Every
problem raises :class:`RequestError` naming the field: ``params.amount: must be a positive
number, not 'abc'``. The token is never shown.

Methods the seed leaves open, decided here:

- ``positions`` (FMZ's ``GetPositions``; ``position`` is taken too): ``{symbol?}``, where the
  symbol may also be a quote alone (``USDT`` or ``USDT.swap``: every position in it), as
  FMZ's ``GetPositions("USDT.swap")`` asks.
- ``marginlevel`` (FMZ's ``SetMarginLevel(symbol, marginLevel)``; ``setmarginlevel`` is
  taken too): ``{symbol, marginLevel}``, the leverage from 1 to 125.
- ``trade``'s ``type`` is ``buy`` or ``sell``, or FMZ's futures directions ``closebuy``
  (close a long: a reduce-only sell) and ``closesell`` (close a short: a reduce-only buy).
- A ``limit`` or ``since`` of 0 (as the seed's ``historyorders`` sends) means "not given".
- ``__api_`` paths are Binance USDⓈ-M paths (``/fapi/v…/…``, ``/futures/data/…``) without a
  query; params become the query (GET, DELETE) or the form body (POST, PUT), each value
  its text (``true``/``false`` for booleans). ``signature`` and ``timestamp`` are riskd's to
  set and are refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from riskd.core.bodies import INT64_MAX, MAX_BODY_BYTES, MAX_EPOCH_MS, parse_json, shown
from riskd.core.clock import MINUTE_MS
from riskd.core.secrets import Secret
from riskd.fmz.symbols import (
    QUOTES,
    SWAP,
    FmzSymbol,
    OrderRef,
    SymbolError,
    parse_order_id,
    parse_symbol,
)
from riskd.market.records import INTERVAL_MS, MAX_KLINES
from riskd.trade.config import ROBOT_NAME

RAW_PREFIX: Final = "__api_"
PERIODS: Final[dict[int, str]] = {ms // MINUTE_MS: name for name, ms in INTERVAL_MS.items()}
"""FMZ's record periods in minutes → Binance's kline intervals."""
MAX_LIMIT: Final = 1000  # Binance's largest depth, trades and allOrders limit
MAX_MARGIN_LEVEL: Final = 125  # Binance's largest leverage
MAX_NUMBER: Final = Decimal(10) ** 15  # no price or amount comes near
MAX_DECIMALS: Final = 18
MAX_SECRET_CHARS: Final = 512

_ROBOT: Final = re.compile(ROBOT_NAME)
_NUMBER: Final = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
_DIGITS: Final = re.compile(r"[0-9]{1,19}")
_RAW_PATH: Final = re.compile(r"/(?:fapi/v[1-9]|futures/data)(?:/[A-Za-z0-9]+)+")
_PARAM_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_RISKD_PARAMS: Final = frozenset({"signature", "timestamp"})
# Epoch times from 2001-09-09 to 2286-11-20 in each unit, and how many of them make a ms.
_NONCE_UNITS: Final = (
    (10**12, 10**13 - 1, 1, "ms"),
    (10**15, 10**16 - 1, 1_000, "µs"),
    (10**18, INT64_MAX, 1_000_000, "ns"),
)


class RequestError(ValueError):
    """A request riskd refuses; the message names the field and never shows the token."""


class Method(StrEnum):
    """The methods riskd serves, as the docker names them (``RAW``: ``__api_<path>``)."""

    TICKER = "ticker"
    DEPTH = "depth"
    TRADES = "trades"
    RECORDS = "records"
    ACCOUNTS = "accounts"
    ASSETS = "assets"
    TRADE = "trade"
    ORDERS = "orders"
    ORDER = "order"
    HISTORY_ORDERS = "historyorders"
    CANCEL = "cancel"
    POSITIONS = "positions"
    MARGIN_LEVEL = "marginlevel"
    RAW = RAW_PREFIX


ALIASES: Final = {"position": Method.POSITIONS, "setmarginlevel": Method.MARGIN_LEVEL}
"""Other names taken for a method."""
_METHODS: Final = {m.value: m for m in Method if m is not Method.RAW} | ALIASES


class HttpMethod(StrEnum):
    """The HTTP methods of a raw call."""

    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    DELETE = "DELETE"


class Side(StrEnum):
    """``trade``'s ``type``: FMZ's order sides, with its futures closing directions."""

    BUY = "buy"
    SELL = "sell"
    CLOSE_BUY = "closebuy"  # close a long
    CLOSE_SELL = "closesell"  # close a short

    @property
    def binance(self) -> str:
        """Binance's side: BUY or SELL."""
        return "BUY" if self in (Side.BUY, Side.CLOSE_SELL) else "SELL"

    @property
    def reduce_only(self) -> bool:
        """Whether the order may only close a position."""
        return self in (Side.CLOSE_BUY, Side.CLOSE_SELL)


@dataclass(frozen=True, slots=True)
class NoParams:
    """``accounts`` and ``assets``: nothing is read."""


@dataclass(frozen=True, slots=True)
class SymbolParams:
    """``ticker`` and ``orders``: one symbol."""

    symbol: FmzSymbol


@dataclass(frozen=True, slots=True)
class MarketParams:
    """``depth`` and ``trades``: a symbol, and how many levels or trades (None: default)."""

    symbol: FmzSymbol
    limit: int | None


@dataclass(frozen=True, slots=True)
class RecordsParams:
    """``records``: a symbol's klines of ``period`` minutes, ``limit`` of them (None: default)."""

    symbol: FmzSymbol
    period_minutes: int
    limit: int | None

    @property
    def interval(self) -> str:
        """Binance's kline interval: ``1h`` for 60 minutes."""
        return PERIODS[self.period_minutes]


@dataclass(frozen=True, slots=True)
class TradeParams:
    """``trade``: a new order; ``price`` None is a market order (FMZ's price ≤ 0).
    ``intended`` (riskd's own field, default false) sends an order the duplicate guard would
    refuse: the same symbol, side and amount again within its window."""

    symbol: FmzSymbol
    side: Side
    price: Decimal | None
    amount: Decimal
    intended: bool = False


@dataclass(frozen=True, slots=True)
class OrderParams:
    """``order`` and ``cancel``: the order the id (and the symbol, for a bare id) names."""

    order: OrderRef


@dataclass(frozen=True, slots=True)
class HistoryParams:
    """``historyorders``: a symbol's orders since ``since_ms``, ``limit`` of them (None: any)."""

    symbol: FmzSymbol
    since_ms: int | None
    limit: int | None


@dataclass(frozen=True, slots=True)
class PositionsParams:
    """``positions``: one symbol's, one quote's (``USDT``), or (both None) every position."""

    symbol: FmzSymbol | None = None
    quote: str | None = None


@dataclass(frozen=True, slots=True)
class MarginLevelParams:
    """``marginlevel``: set the symbol's leverage."""

    symbol: FmzSymbol
    margin_level: int


@dataclass(frozen=True, slots=True)
class RawParams:
    """``__api_<path>``: a raw Binance call; ``params`` become its query or form body."""

    path: str
    http_method: HttpMethod
    params: tuple[tuple[str, str], ...]


Params = (
    NoParams
    | SymbolParams
    | MarketParams
    | RecordsParams
    | TradeParams
    | OrderParams
    | HistoryParams
    | PositionsParams
    | MarginLevelParams
    | RawParams
)


@dataclass(frozen=True, slots=True)
class FmzRequest:
    """One checked request: who sent it, what it asks, and the docker's nonce in ms."""

    robot: str
    token: Secret
    method: Method
    nonce_ms: int
    params: Params


def parse_request(body: bytes, http_method_header: str | None) -> FmzRequest:
    """The docker's *body* (and, for ``__api_`` methods, its ``Http-Method`` header) checked.

    Per method, ``params`` holds (``?``: optional):

    ========================== =========================================================
    ticker, orders             symbol
    depth, trades              symbol, limit? (1 to 1000)
    records                    symbol, period (minutes: 1, 3, 5, 15, 30, 60, 120, 240, 360,
                               480, 720, 1440, 4320 or 10080), limit? (1 to 1500)
    accounts, assets           (nothing)
    trade                      symbol, type (buy, sell, closebuy, closesell), price (≤ 0:
                               market), amount (> 0)
    order, cancel              id, symbol? (needed when the id is a bare order id)
    historyorders              symbol, since? (epoch ms), limit? (1 to 1000)
    positions                  symbol? (a symbol, or a quote alone: USDT, USDT.swap)
    marginlevel                symbol, marginLevel (1 to 125)
    __api_<path>               any flat fields: name → string, number or boolean
    ========================== =========================================================
    """
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = parse_json(body)
    except ValueError as exc:
        raise RequestError(str(exc)) from None
    if not isinstance(data, dict):
        raise RequestError("the body must be a JSON object")
    robot = _robot(_required(data, "access_key"))
    token = _token(_required(data, "secret_key"))
    method, raw_path = _method(_required(data, "method"))
    nonce_ms = _nonce(_required(data, "nonce"))
    params = _required(data, "params")
    if not isinstance(params, dict):
        raise RequestError(f"params: must be an object, not {_kind(params)}")
    if raw_path is not None:
        parsed: Params = RawParams(raw_path, _http_method(http_method_header), _raw(params))
    else:
        try:
            parsed = _READERS[method](_Fields(params))
        except SymbolError as exc:
            raise RequestError(str(exc)) from None
    return FmzRequest(robot, token, method, nonce_ms, parsed)


def _required(data: dict, name: str) -> object:
    if name not in data or data[name] is None:
        raise RequestError(f"{name}: required")
    return data[name]


def _robot(value: object) -> str:
    if isinstance(value, str) and _ROBOT.fullmatch(value):
        return value
    # Never the value itself: a docker given its keys the wrong way round sends the robot's
    # token here, and FMZ shows the error in the robot's log on its site.
    raise RequestError(
        "access_key: must be a robot's name (1 to 16 letters, digits, '-' or '_'), "
        f"not {_unshown(value)}"
    )


def _unshown(value: object) -> str:
    """What *value* is, for an error that must not show it."""
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "a list"}.get(type(value), "a number")


def _token(value: object) -> Secret:
    if not isinstance(value, str) or not value.strip():
        raise RequestError("secret_key: must be the robot's token, a non-empty string")
    if len(value) > MAX_SECRET_CHARS or not value.isprintable():
        raise RequestError(
            f"secret_key: must be printable and at most {MAX_SECRET_CHARS} characters"
        )
    return Secret(value)


def _method(value: object) -> tuple[Method, str | None]:
    """The method, and for ``__api_<path>`` the path."""
    if isinstance(value, str) and value.startswith(RAW_PREFIX):
        path = value.removeprefix(RAW_PREFIX)
        if not _RAW_PATH.fullmatch(path):
            raise RequestError(
                f"method: {RAW_PREFIX} must be followed by a Binance USDⓈ-M path like "
                f"/fapi/v1/order (the query goes in params), not {shown(value)}"
            )
        return Method.RAW, path
    if isinstance(value, str) and value in _METHODS:
        return _METHODS[value], None
    names = ", ".join(m.value for m in Method if m is not Method.RAW)
    raise RequestError(f"method: must be one of {names} or {RAW_PREFIX}<path>, not {shown(value)}")


def _nonce(value: object) -> int:
    number = _whole(value)
    for low, high, per_ms, _ in _NONCE_UNITS:
        if number is not None and low <= number <= high:
            return number // per_ms
    units = ", ".join(f"{unit} ({len(str(low))} digits)" for low, _, _, unit in _NONCE_UNITS)
    raise RequestError(f"nonce: must be the epoch time in {units}, not {shown(value)}")


def _http_method(header: str | None) -> HttpMethod:
    name = header.upper() if header is not None and header.isascii() else header
    if name in HttpMethod.__members__:
        return HttpMethod(name)
    raise RequestError(
        f"Http-Method header: must be {', '.join(HttpMethod)} for {RAW_PREFIX} methods, "
        f"not {shown(header)}"
    )


def _raw(params: dict) -> tuple[tuple[str, str], ...]:
    pairs = []
    for name, value in params.items():
        if not _PARAM_NAME.fullmatch(name):
            raise RequestError(f"params: {shown(name)} is not a Binance parameter name")
        if name in _RISKD_PARAMS:
            raise RequestError(f"params.{name}: riskd sets it; leave it out")
        pairs.append((name, _raw_value(f"params.{name}", value)))
    return tuple(pairs)


def _raw_value(field: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return f"{Decimal(repr(value)):f}"
    if isinstance(value, str) and value.isprintable():
        return value
    raise RequestError(f"{field}: must be a string, number or boolean, not {_kind(value)}")


def _whole(value: object) -> int | None:
    """*value* as an integer: a JSON integer, a whole float or a string of ASCII digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return None


def _decimal(field: str, value: object, must: str) -> Decimal:
    """*value* (a JSON number or a string of one) as an exact Decimal within sane bounds.

    A JSON float is read through its shortest text (``repr``), the number the docker meant.
    """
    number: Decimal | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, float) and math.isfinite(value):
        number = Decimal(repr(value))
    elif isinstance(value, str) and len(value) <= 64 and _NUMBER.fullmatch(value):
        number = Decimal(value)
    if number is None:
        raise RequestError(f"{field}: {must}, not {shown(value)}")
    if abs(number) >= MAX_NUMBER or (number and number.as_tuple().exponent < -MAX_DECIMALS):
        raise RequestError(
            f"{field}: {must} below {MAX_NUMBER:,f} with at most {MAX_DECIMALS} decimals, "
            f"not {shown(value)}"
        )
    return number


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list"}.get(type(value), shown(value))


@dataclass(frozen=True, slots=True)
class _Fields:
    """``params``, read field by field; each error names ``params.<field>``."""

    data: dict

    def get(self, name: str) -> object:
        """The field, None when absent or null."""
        return self.data.get(name)

    def required(self, name: str) -> object:
        value = self.data.get(name)
        if value is None:
            raise RequestError(f"params.{name}: required")
        return value

    def symbol(self) -> FmzSymbol:
        return parse_symbol(self.required("symbol"))

    def optional_symbol(self) -> FmzSymbol | None:
        value = self.get("symbol")
        return None if value is None else parse_symbol(value)

    def integer(self, name: str, low: int, high: int) -> int:
        """A required integer from *low* to *high*."""
        value = self.required(name)
        number = _whole(value)
        if number is None or not low <= number <= high:
            raise RequestError(
                f"params.{name}: must be a whole number from {low} to {high}, not {shown(value)}"
            )
        return number

    def optional_integer(self, name: str, low: int, high: int) -> int | None:
        """An integer from *low* to *high*; absent, null or 0 is None."""
        value = self.get(name)
        number = _whole(value)
        if value is None or number == 0:
            return None
        if number is None or not low <= number <= high:
            raise RequestError(
                f"params.{name}: must be a whole number, 0 or {low} to {high}, not {shown(value)}"
            )
        return number

    def flag(self, name: str) -> bool:
        """An optional true or false (absent or null: false)."""
        value = self.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise RequestError(f"params.{name}: must be true or false, not {shown(value)}")
        return value

    def limit(self, high: int) -> int | None:
        return self.optional_integer("limit", 1, high)

    def number(self, name: str, *, positive: bool) -> Decimal:
        must = "must be a positive number" if positive else "must be a number"
        value = self.required(name)
        number = _decimal(f"params.{name}", value, must)
        if positive and number <= 0:
            raise RequestError(f"params.{name}: {must}, not {shown(value)}")
        return number

    def side(self) -> Side:
        value = self.required("type")
        if isinstance(value, str) and value in {side.value for side in Side}:
            return Side(value)
        raise RequestError(f"params.type: must be {', '.join(Side)}, not {shown(value)}")

    def order(self) -> OrderRef:
        id_symbol, order_id = parse_order_id(self.required("id"))
        symbol = self.optional_symbol()
        if id_symbol is None:
            if symbol is None:
                raise RequestError("params.symbol: required when params.id is a bare order id")
            return OrderRef(symbol, order_id)
        if symbol is not None and id_symbol.pair != symbol.pair:
            raise RequestError(
                f"params.symbol: {symbol.fmz} is not the symbol of order "
                f"{id_symbol.pair},{order_id}"
            )
        return OrderRef(symbol or id_symbol, order_id)


def _market(fields: _Fields) -> MarketParams:
    return MarketParams(fields.symbol(), fields.limit(MAX_LIMIT))


def _records(fields: _Fields) -> RecordsParams:
    symbol = fields.symbol()
    period = fields.required("period")
    minutes = _whole(period)
    if minutes is None or minutes not in PERIODS:
        allowed = ", ".join(map(str, PERIODS))
        raise RequestError(f"params.period: must be minutes, one of {allowed}, not {shown(period)}")
    return RecordsParams(symbol, minutes, fields.limit(MAX_KLINES))


def _trade(fields: _Fields) -> TradeParams:
    symbol = fields.symbol()
    side = fields.side()
    price = fields.number("price", positive=False)
    amount = fields.number("amount", positive=True)
    intended = fields.flag("intended")
    return TradeParams(symbol, side, price if price > 0 else None, amount, intended)


def _history(fields: _Fields) -> HistoryParams:
    symbol = fields.symbol()
    since = fields.optional_integer("since", 1, MAX_EPOCH_MS)
    return HistoryParams(symbol, since, fields.limit(MAX_LIMIT))


def _positions(fields: _Fields) -> PositionsParams:
    value = fields.get("symbol")
    if isinstance(value, str):
        quote, dot, contract = value.upper().partition(".")
        if quote in QUOTES and (not dot or contract == SWAP.upper()):
            return PositionsParams(quote=quote)
    return PositionsParams(symbol=fields.optional_symbol())


def _margin_level(fields: _Fields) -> MarginLevelParams:
    return MarginLevelParams(fields.symbol(), fields.integer("marginLevel", 1, MAX_MARGIN_LEVEL))


_READERS: Final = {
    Method.TICKER: lambda fields: SymbolParams(fields.symbol()),
    Method.DEPTH: _market,
    Method.TRADES: _market,
    Method.RECORDS: _records,
    Method.ACCOUNTS: lambda fields: NoParams(),
    Method.ASSETS: lambda fields: NoParams(),
    Method.TRADE: _trade,
    Method.ORDERS: lambda fields: SymbolParams(fields.symbol()),
    Method.ORDER: lambda fields: OrderParams(fields.order()),
    Method.HISTORY_ORDERS: _history,
    Method.CANCEL: lambda fields: OrderParams(fields.order()),
    Method.POSITIONS: _positions,
    Method.MARGIN_LEVEL: _margin_level,
}
