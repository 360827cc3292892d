"""Samples for the pre-trade gate: robot r1 on account main, BTCUSDT orders, and a GateContext
at NOW_MS with an ACTIVE ban list, the BTCUSDT filters and a mark of 60000."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from riskd.core.secrets import SecretSources
from riskd.orders import OpenOrder
from riskd.positions import PositionKey
from riskd.risk.banlist import BanList
from riskd.trade.config import LimitsConfig, RobotConfig
from riskd.trade.gate import GateContext, GateDecision, decide
from riskd.trade.intent import OrderIntent
from riskd.trade.recent import RecentOrders
from tests.kit.samples import BTC, NOW_MS, banlist

ROBOT = "r1"
ACCOUNT = "main"
MARK = Decimal("60000")
HORIZON_MS = 10_000
ACTIVE = banlist()
"""Version 1 of account main's ban list: ACTIVE, no locks, valid until NOW_MS + 30 s."""


def robot(
    name: str = ROBOT,
    *,
    symbols: tuple[str, ...] | None = None,
    share: Mapping[str, str] | None = None,
    **limits: Any,
) -> RobotConfig:
    """Robot *name* on account main with these *limits* (LimitsConfig's fields) and *share*
    (max_notional_usdt, max_margin_usdt); its token is not loaded."""
    return RobotConfig.model_validate(
        {
            "name": name,
            "account": ACCOUNT,
            "token_env": "ROBOT_TOKEN",
            "symbols": symbols,
            "limits": limits,
            **(share or {}),
        },
        context=SecretSources(secrets=frozenset()),
    )


def intent(
    side: str = "BUY",
    quantity: str = "0.010",
    price: str | None = "60000.0",
    *,
    position_side: str = "BOTH",
    symbol: str = "BTCUSDT",
    reduce_only: bool = False,
    intended_duplicate: bool = False,
    robot: str = ROBOT,
) -> OrderIntent:
    """An order of *robot* on account main: LIMIT at *price*, or MARKET when *price* is None."""
    return OrderIntent(
        robot=robot,
        account=ACCOUNT,
        symbol=symbol,
        side=side,  # type: ignore[arg-type]  # the intent takes names
        position_side=position_side,  # type: ignore[arg-type]
        type="MARKET" if price is None else "LIMIT",  # type: ignore[arg-type]
        quantity=Decimal(quantity),
        price=None if price is None else Decimal(price),
        reduce_only=reduce_only,
        intended_duplicate=intended_duplicate,
    )


def context(
    *,
    now_ms: int = NOW_MS,
    robot_config: RobotConfig | None = None,
    account_limits: LimitsConfig | None = None,
    banlist: BanList | None = ACTIVE,
    filters: Any = BTC,
    positions: Mapping[tuple[str, str], str] | None = None,
    open_orders: Sequence[OpenOrder] = (),
    marks: Mapping[str, str] | None = None,
    recent: RecentOrders | None = None,
    robot_positions: Mapping[tuple[str, str], str] | None = None,
    leverage: Mapping[str, int] | None = None,
) -> GateContext:
    """A GateContext at *now_ms* for robot r1 (unless *robot_config*); positions and marks as
    strings, marks {BTCUSDT: 60000} unless given; default limits (a 500 bps band, a 2 s
    duplicate window) unless given."""
    if marks is None:
        marks = {"BTCUSDT": str(MARK)}
    return GateContext(
        now_ms=now_ms,
        robot=robot_config or robot(),
        account_limits=account_limits or LimitsConfig(),
        banlist=banlist,
        filters=filters,
        positions={PositionKey(*key): Decimal(amount) for key, amount in (positions or {}).items()},
        open_orders=open_orders,
        marks={symbol: Decimal(mark) for symbol, mark in marks.items()},
        recent=recent or RecentOrders(HORIZON_MS),
        robot_positions={
            PositionKey(*key): Decimal(amount) for key, amount in (robot_positions or {}).items()
        },
        leverage=leverage or {},
    )


def send(order: OrderIntent, at: GateContext) -> GateDecision:
    """Decide *order* and, as the gateway does, record it in ``at.recent`` if it passed."""
    decision = decide(order, at)
    if decision.passed:
        at.recent.record(order, at.now_ms)
    return decision
