"""Sample domain objects shared by tests: ban lists and their locks, fills, symbol filters."""

from __future__ import annotations

from decimal import Decimal

from riskd.exchange.filters import SymbolFilters
from riskd.risk.banlist import BanList, BanListLock
from riskd.risk.ledger import Fill

NOW_MS = 1_700_000_000_000
VALID_MS = 30_000


def lock(
    symbol: str = "BTCUSDT", side: str = "both", until_ms: int | None = None, id: int = 1
) -> BanListLock:
    return BanListLock(
        id=id,
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        reason_code="PNL_4H",
        reason_text="realized PnL over 4 h ≤ −150 USDT",
        source="rule:pnl_4h",
        created_ms=NOW_MS - 60_000,
        until_ms=until_ms,
    )


def banlist(
    version: int = 1,
    *locks: BanListLock,
    account: str = "main",
    state: str = "ACTIVE",
    all: bool = False,
) -> BanList:
    return BanList(
        account=account,
        version=version,
        generated_at_ms=NOW_MS,
        valid_until_ms=NOW_MS + VALID_MS,
        state=state,  # type: ignore[arg-type]
        all=all,
        locks=locks,
    )


def make_fill(trade_id: int = 1, pnl: str = "-10", fee: str = "0.5", time_ms: int = 1000) -> Fill:
    return Fill(
        symbol="BTCUSDT",
        trade_id=trade_id,
        order_id=7,
        client_order_id="c",
        side="SELL",
        position_side="BOTH",
        order_type="MARKET",
        price=Decimal("60000"),
        qty=Decimal("0.01"),
        realized_pnl=Decimal(pnl),
        commission=Decimal(fee),
        commission_asset="USDT",
        maker=False,
        time_ms=time_ms,
    )


BTC = SymbolFilters(
    symbol="BTCUSDT",
    status="TRADING",
    tick_size=Decimal("0.10"),
    min_price=Decimal("261.10"),
    max_price=Decimal("809484"),
    step_size=Decimal("0.001"),
    min_qty=Decimal("0.001"),
    max_qty=Decimal("1000"),
    market_step_size=Decimal("0.001"),
    market_min_qty=Decimal("0.001"),
    market_max_qty=Decimal("120"),
    min_notional=Decimal("100"),
    multiplier_up=Decimal("1.0500"),
    multiplier_down=Decimal("0.9500"),
    price_precision=2,
    quantity_precision=3,
)
