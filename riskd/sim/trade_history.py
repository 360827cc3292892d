"""Each account's fills, and GET /fapi/v1/userTrades over them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from riskd.core.clock import DAY_MS
from riskd.sim import errors as err
from riskd.sim.accounts import Account
from riskd.sim.market import Market, fixed
from riskd.sim.params import Params, integer, opt

TRADE_WINDOW_MS = 7 * DAY_MS
TRADE_RETENTION_MS = 180 * DAY_MS


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one order, as the account's trade list shows it."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    position_side: str
    price: Decimal
    qty: Decimal
    realized_pnl: Decimal
    commission: Decimal
    time_ms: int
    maker: bool

    def render(self, market: Market) -> dict:
        """One item of GET /fapi/v1/userTrades (the recorded key order)."""
        spec = market.specs[self.symbol]
        return {
            "symbol": self.symbol,
            "id": self.trade_id,
            "orderId": self.order_id,
            "side": self.side,
            "price": fixed(self.price, spec.price_precision),
            "qty": fixed(self.qty, spec.quantity_precision),
            # Binance prints a zero as "0" and anything else to 8 decimals.
            "realizedPnl": fixed(self.realized_pnl, 8) if self.realized_pnl else "0",
            "marginAsset": spec.quote_asset,
            "quoteQty": fixed(self.price * self.qty, 5),
            "commission": fixed(self.commission, 8),
            "commissionAsset": spec.quote_asset,
            "time": self.time_ms,
            "positionSide": self.position_side,
            "maker": self.maker,
            "buyer": self.side == "BUY",
        }


class TradeHistory:
    """Fills per account, oldest first (trade ids grow with time)."""

    def __init__(self, market: Market, clock: Callable[[], int]) -> None:
        self._market = market
        self._clock = clock
        self._fills: dict[str, list[Fill]] = {}

    def record(self, account: Account, fill: Fill) -> None:
        self._fills.setdefault(account.name, []).append(fill)

    def user_trades(self, account: Account, params: Params) -> list:
        """GET /fapi/v1/userTrades: one symbol; 7 days at most; fromId excludes a time window."""
        spec = self._market.spec(opt(params, "symbol"))
        order_id = integer(params, "orderId")
        from_id = integer(params, "fromId")
        start = integer(params, "startTime")
        end = integer(params, "endTime")
        limit = integer(params, "limit", 500)
        if not 1 <= limit <= 1000:
            raise err.BAD_LIMIT
        if from_id is not None and (start is not None or end is not None):
            raise err.PARAMETER_COMBINATION
        now = self._clock()
        if start is not None and end is not None:
            if start > end:
                raise err.START_AFTER_END
            if end - start > TRADE_WINDOW_MS:
                raise err.window_too_long(TRADE_WINDOW_MS // 3_600_000)
        elif start is not None:
            end = start + TRADE_WINDOW_MS
        elif end is not None:
            start = end - TRADE_WINDOW_MS
        elif from_id is None:
            start, end = now - TRADE_WINDOW_MS, now
        oldest = now - TRADE_RETENTION_MS
        fills = [
            f
            for f in self._fills.get(account.name, ())
            if f.symbol == spec.symbol
            and f.time_ms >= oldest
            and (order_id is None or f.order_id == order_id)
            and (from_id is None or f.trade_id >= from_id)
            and (start is None or start <= f.time_ms)
            and (end is None or f.time_ms <= end)
        ]
        # From fromId: the first ones after it; otherwise the most recent ones.
        chosen = fills[:limit] if from_id is not None else fills[-limit:]
        return [f.render(self._market) for f in chosen]
