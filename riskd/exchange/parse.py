"""Binance USDⓈ-M account and position payloads, REST and user stream → PositionBook snapshots.

Numbers are read exactly. Decimal fields may be JSON strings ("0.009"), integers, or
Decimals (a body decoded with ``parse_float=Decimal``); times may be JSON integers or strings
of digits (ccxt's recordings stringify them). Floats are refused, because they have already
lost the exchange's decimal text, and so are booleans, NaN and exponents. Every problem raises
PayloadError naming the endpoint (or stream event), the field path and the kind of value found,
never a value: it may be a balance, and the message ends up in health reports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from riskd.positions import (
    ACCOUNT_SOURCE,
    POSITION_RISK_SOURCE,
    STREAM_SOURCE,
    BalanceRecord,
    PositionRecord,
    SourceSnapshot,
)

ACCOUNT_V2: Final = "GET /fapi/v2/account"
ACCOUNT_V3: Final = "GET /fapi/v3/account"
ACCOUNT_UNKNOWN: Final = "GET /fapi/v2|v3/account"
POSITION_RISK_V2: Final = "GET /fapi/v2/positionRisk"
POSITION_RISK_V3: Final = "GET /fapi/v3/positionRisk"
POSITION_RISK_UNKNOWN: Final = "GET /fapi/v2|v3/positionRisk"
ACCOUNT_UPDATE: Final = "ACCOUNT_UPDATE"
POSITION_SIDES: Final = frozenset({"BOTH", "LONG", "SHORT"})

_DECIMAL_TEXT: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_TIME_TEXT: Final = re.compile(r"[0-9]+")
_DERIVED_ENTRY_QUANTUM: Final = Decimal("1E-8")  # Binance's notional and PnL decimals


class PayloadError(ValueError):
    """A response or event riskd cannot use, e.g. ``ACCOUNT_UPDATE: a.P[0].pa: …``."""

    def __init__(self, endpoint: str, path: str, problem: str) -> None:
        super().__init__(f"{endpoint}: {path}: {problem}")
        self.endpoint = endpoint
        self.path = path
        self.problem = problem


def parse_account(body: Mapping[str, Any], taken_at_ms: int) -> SourceSnapshot:
    """A GET /fapi/v2/account or /fapi/v3/account body as a complete "account" snapshot.

    v2 (told apart by its ``canTrade`` key) lists every symbol, flat ones with amount 0; v3
    lists only symbols with a position or open orders. Both are complete.

    v3 account positions carry no ``entryPrice``. It is derived from
    ``notional = amount × mark`` and ``unrealizedProfit = amount × (mark − entry)`` as
    ``(notional − unrealizedProfit) / amount``, rounded to 8 decimals; Binance rounds both
    inputs to 8 decimals, so the result is within about 1e-8 / |amount| of the true entry. A flat
    v3 position gets entry 0. Account positions have no mark, break-even or liquidation
    price; the book keeps those from positionRisk while the updateTime is unchanged.
    """
    if not isinstance(body, Mapping):
        raise PayloadError(ACCOUNT_UNKNOWN, "body", f"{_show(body)} is not an object")
    v2 = "canTrade" in body
    root = _Object(ACCOUNT_V2 if v2 else ACCOUNT_V3, "", body)
    return _snapshot(
        root.endpoint,
        source=ACCOUNT_SOURCE,
        taken_at_ms=taken_at_ms,
        positions=tuple(_account_position(item, v2=v2) for item in root.objects("positions")),
        balances=tuple(_balance(item) for item in root.objects("assets")),
    )


def parse_position_risk(body: Sequence[Any], taken_at_ms: int, *, complete: bool) -> SourceSnapshot:
    """A GET /fapi/v2/positionRisk or /fapi/v3/positionRisk body as a "position_risk" snapshot.

    *complete* is True when the request named no symbol (every open position is listed).
    v2 answers are told apart by ``marginType`` in their rows. A ``liquidationPrice`` or
    ``breakEvenPrice`` of 0 is Binance's "none" (a flat position, or one no price can
    liquidate) and becomes None; ``breakEvenPrice`` may be absent (older v2 answers).
    """
    if isinstance(body, str | bytes) or not isinstance(body, Sequence):
        raise PayloadError(POSITION_RISK_UNKNOWN, "body", f"{_show(body)} is not a list")
    v2 = any(isinstance(item, Mapping) and "marginType" in item for item in body)
    endpoint = POSITION_RISK_V2 if v2 else POSITION_RISK_V3
    return _snapshot(
        endpoint,
        source=POSITION_RISK_SOURCE,
        taken_at_ms=taken_at_ms,
        positions=tuple(
            _risk_position(_Object.at(endpoint, f"[{index}]", item))
            for index, item in enumerate(body)
        ),
        complete=complete,
    )


def parse_account_update(event: Mapping[str, Any]) -> SourceSnapshot:
    """A user-stream ACCOUNT_UPDATE event as an incomplete "stream" snapshot taken at its T.

    The event lists only the assets and positions that changed, as of its transaction time
    ``T`` (not the event time ``E``), so every record's update time is ``T``; a position with
    ``pa`` 0 is a close of that key. An absent ``P`` (funding on a cross position) or ``B``
    lists nothing. A ``bep`` of 0 is Binance's "none" and becomes None. The reason ``m`` is
    not read: the book needs what changed, not why.
    """
    if not isinstance(event, Mapping):
        raise PayloadError(ACCOUNT_UPDATE, "event", f"{_show(event)} is not an object")
    root = _Object(ACCOUNT_UPDATE, "", event)
    kind = root.text("e")
    if kind != ACCOUNT_UPDATE:
        raise root.error("e", f"{_show(kind)} is not {ACCOUNT_UPDATE}")
    at_ms = root.time_ms("T")
    update = root.object("a")
    return _snapshot(
        ACCOUNT_UPDATE,
        source=STREAM_SOURCE,
        taken_at_ms=at_ms,
        positions=tuple(
            _stream_position(item, at_ms) for item in update.objects("P", required=False)
        ),
        balances=tuple(
            BalanceRecord(
                asset=item.text("a"), wallet_balance=item.decimal("wb"), update_time_ms=at_ms
            )
            for item in update.objects("B", required=False)
        ),
        complete=False,
        path="a",
    )


def _account_position(item: _Object, *, v2: bool) -> PositionRecord:
    amount = item.decimal("positionAmt")
    unrealized_pnl = item.decimal("unrealizedProfit")
    if v2:
        entry_price = item.decimal("entryPrice")
    elif amount == 0:
        entry_price = Decimal(0)
    else:
        notional = item.decimal("notional")
        try:
            entry_price = ((notional - unrealized_pnl) / amount).quantize(_DERIVED_ENTRY_QUANTUM)
        except InvalidOperation:
            raise item.error("notional", "too large to derive the entry price from") from None
    return PositionRecord(
        symbol=item.text("symbol"),
        position_side=item.position_side(),
        amount=amount,
        entry_price=entry_price,
        update_time_ms=item.time_ms("updateTime"),
        break_even_price=item.price_or_none("breakEvenPrice", required=False),
        unrealized_pnl=unrealized_pnl,
    )


def _risk_position(item: _Object) -> PositionRecord:
    return PositionRecord(
        symbol=item.text("symbol"),
        position_side=item.position_side(),
        amount=item.decimal("positionAmt"),
        entry_price=item.decimal("entryPrice"),
        update_time_ms=item.time_ms("updateTime"),
        break_even_price=item.price_or_none("breakEvenPrice", required=False),
        mark_price=item.decimal("markPrice"),
        unrealized_pnl=item.decimal("unRealizedProfit"),
        liquidation_price=item.price_or_none("liquidationPrice", required=True),
    )


def _stream_position(item: _Object, at_ms: int) -> PositionRecord:
    return PositionRecord(
        symbol=item.text("s"),
        position_side=item.position_side("ps"),
        amount=item.decimal("pa"),
        entry_price=item.decimal("ep"),
        update_time_ms=at_ms,
        break_even_price=item.price_or_none("bep", required=False),
        unrealized_pnl=item.decimal("up"),
    )


def _balance(item: _Object) -> BalanceRecord:
    return BalanceRecord(
        asset=item.text("asset"),
        wallet_balance=item.decimal("walletBalance"),
        update_time_ms=item.time_ms("updateTime"),
        unrealized_pnl=item.decimal("unrealizedProfit"),
        margin_balance=item.decimal("marginBalance"),
        available_balance=item.decimal("availableBalance"),
    )


@dataclass(frozen=True, slots=True)
class _Object:
    """One JSON object of a response, with its path for error messages."""

    endpoint: str
    path: str
    data: Mapping[str, Any]

    @classmethod
    def at(cls, endpoint: str, path: str, value: object) -> _Object:
        if not isinstance(value, Mapping):
            raise PayloadError(endpoint, path, f"{_show(value)} is not an object")
        return cls(endpoint, path, value)

    def _child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, problem: str) -> PayloadError:
        return PayloadError(self.endpoint, self._child(key), problem)

    def _get(self, key: str) -> Any:
        if key not in self.data:
            raise self.error(key, "is missing")
        return self.data[key]

    def object(self, key: str) -> _Object:
        return _Object.at(self.endpoint, self._child(key), self._get(key))

    def objects(self, key: str, *, required: bool = True) -> tuple[_Object, ...]:
        """The objects of a list; an absent list is empty unless *required*."""
        if not required and key not in self.data:
            return ()
        value = self._get(key)
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise self.error(key, f"{_show(value)} is not a list")
        prefix = self._child(key)
        return tuple(
            _Object.at(self.endpoint, f"{prefix}[{index}]", item)
            for index, item in enumerate(value)
        )

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise self.error(key, f"{_show(value)} is not a non-empty string")
        return value

    def boolean(self, key: str, *, required: bool = True) -> bool:
        """A JSON boolean; absent is False unless *required*."""
        if not required and key not in self.data:
            return False
        value = self._get(key)
        if not isinstance(value, bool):
            raise self.error(key, f"{_show(value)} is not a boolean")
        return value

    def position_side(self, key: str = "positionSide") -> str:
        side = self.text(key)
        if side not in POSITION_SIDES:
            raise self.error(key, f"{_show(side)} is not BOTH, LONG or SHORT")
        return side

    def decimal(self, key: str) -> Decimal:
        value = self._get(key)
        if isinstance(value, float):
            raise self.error(key, "is a float; decode with parse_float=Decimal")
        if isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value)
        if isinstance(value, Decimal) and value.is_finite():
            return value
        if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
            return Decimal(value)
        raise self.error(key, f"{_show(value)} is not a decimal")

    def price_or_none(self, key: str, *, required: bool) -> Decimal | None:
        """A price where Binance's 0 means "none"; absent is None unless *required*."""
        if not required and key not in self.data:
            return None
        price = self.decimal(key)
        return None if price == 0 else price

    def time_ms(self, key: str) -> int:
        value = self._get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if isinstance(value, str) and _TIME_TEXT.fullmatch(value):
            return int(value)
        raise self.error(key, f"{_show(value)} is not a time in ms")


def _snapshot(
    endpoint: str,
    *,
    source: str,
    taken_at_ms: int,
    positions: tuple[PositionRecord, ...],
    balances: tuple[BalanceRecord, ...] | None = None,
    complete: bool = True,
    path: str = "body",
) -> SourceSnapshot:
    """The SourceSnapshot; a key listed twice is the fault of the payload at *path*."""
    try:
        return SourceSnapshot(source, taken_at_ms, positions, balances, complete)
    except ValueError as exc:
        raise PayloadError(endpoint, path, str(exc)) from None


def _show(value: object) -> str:
    """What kind of value a bad one is (``a string``, ``null`` …), never the value itself."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string" if value else "an empty string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    return f"a {type(value).__name__}"
