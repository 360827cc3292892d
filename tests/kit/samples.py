"""Sample domain objects shared by tests: ban lists and their locks, open orders, order
updates, fills, symbol filters."""

from __future__ import annotations

from decimal import Decimal

from riskd.exchange.filters import SymbolFilters
from riskd.exchange.parse_income import IncomeRecord
from riskd.exchange.parse_orders import OrderUpdate
from riskd.orders import OpenAlgoOrder, OpenOrder
from riskd.risk.banlist import BanList, BanListLock
from riskd.risk.ledger import Fill

NOW_MS = 1_700_000_000_000
VALID_MS = 30_000


def lock(
    symbol: str = "BTCUSDT",
    side: str = "both",
    until_ms: int | None = None,
    id: int = 1,
    robot: str = "",
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
        robot=robot,
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


def open_order(
    order_id: int,
    symbol: str = "BTCUSDT",
    *,
    client_order_id: str | None = None,
    time_ms: int = 0,
    time_in_force: str = "GTC",
    price: str = "1",
    orig_qty: str = "1",
    executed_qty: str = "0",
    side: str = "BUY",
    position_side: str = "BOTH",
    reduce_only: bool = False,
) -> OpenOrder:
    """A resting LIMIT order placed at *time_ms* (client id ``c<order_id>`` unless given)."""
    return OpenOrder(
        order_id=order_id,
        client_order_id=f"c{order_id}" if client_order_id is None else client_order_id,
        symbol=symbol,
        side=side,
        position_side=position_side,
        type="LIMIT",
        time_in_force=time_in_force,
        price=Decimal(price),
        orig_qty=Decimal(orig_qty),
        executed_qty=Decimal(executed_qty),
        reduce_only=reduce_only,
        time_ms=time_ms,
        update_time_ms=time_ms,
    )


def order_update(
    *,
    time_ms: int,
    status: str = "FILLED",
    filled: str = "0.010",
    side: str = "BUY",
    order_type: str = "LIMIT",
    price: str = "60000",
    orig_qty: str = "0.010",
    fill_price: str = "60000",
    realized_pnl: str = "0",
    order_id: int = 42,
    client_order_id: str = "c-1",
    trade_id: int = 0,
    maker: bool = True,
    reduce_only: bool = False,
    commission_asset: str = "",
) -> OrderUpdate:
    """An ORDER_TRADE_UPDATE of a BTCUSDT order at *time_ms*: a TRADE when *filled* is not 0
    (the whole fill at *fill_price*, no fee), else NEW."""
    return OrderUpdate(
        event_time_ms=time_ms + 1,
        transaction_time_ms=time_ms,
        symbol="BTCUSDT",
        client_order_id=client_order_id,
        side=side,
        position_side="BOTH",
        order_type=order_type,
        orig_type=order_type,
        time_in_force="GTC",
        price=Decimal(price),
        orig_qty=Decimal(orig_qty),
        execution_type="TRADE" if Decimal(filled) else "NEW",
        status=status,
        order_id=order_id,
        last_filled_qty=Decimal(filled),
        last_filled_price=Decimal(fill_price),
        cumulative_filled_qty=Decimal(filled),
        average_price=Decimal(fill_price),
        commission=Decimal(0),
        commission_asset=commission_asset,
        realized_pnl=Decimal(realized_pnl),
        trade_id=trade_id,
        maker=maker,
        reduce_only=reduce_only,
        close_position=False,
    )


def algo_order(
    algo_id: int, client_algo_id: str | None = None, symbol: str = "BTCUSDT", time_ms: int = 1
) -> OpenAlgoOrder:
    """A resting STOP_MARKET SELL of 0.010 *symbol* at 57,000 (client id ``rl<algo_id>``
    unless given), created and updated at *time_ms*."""
    return OpenAlgoOrder(
        algo_id=algo_id,
        client_algo_id=f"rl{algo_id}" if client_algo_id is None else client_algo_id,
        symbol=symbol,
        side="SELL",
        position_side="BOTH",
        order_type="STOP_MARKET",
        quantity=Decimal("0.010"),
        trigger_price=Decimal("57000"),
        working_type="MARK_PRICE",
        reduce_only=True,
        close_position=False,
        price_protect=True,
        create_time_ms=time_ms,
        update_time_ms=time_ms,
    )


def income_record(
    tran_id: int,
    income_type: str = "COMMISSION",
    amount: str = "-0.5",
    time_ms: int = 1000,
    trade_id: str = "",
    symbol: str = "BTCUSDT",
) -> IncomeRecord:
    """A row of GET /fapi/v1/income in USDT (its info: the income type)."""
    return IncomeRecord(
        tran_id=tran_id,
        income_type=income_type,
        symbol=symbol,
        asset="USDT",
        amount=Decimal(amount),
        time_ms=time_ms,
        trade_id=trade_id,
        info=income_type,
    )
