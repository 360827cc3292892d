"""The OrderReaper's decisions: which stale orders to cancel, and which to re-send as takers.

The seed's checkTimeoutOrders read every open order and cancelled those pending too long,
optionally turning an unfilled maker order into a taker order. Here the policy is by client-id
prefix and age; ladder rungs are protected; and cancels stop on any symbol close to Binance's
GTC cancellation-ratio (GCR) lock, so riskd never gets a symbol locked. Pure: the actor passes
in the exchange's view and the time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from pydantic import Field, field_validator, model_validator

from riskd.core.frozen import FrozenModel
from riskd.exchange.parse import PayloadError, _Object, _show
from riskd.orders import OpenAlgoOrder, OpenOrder

TRADING_STATUS: Final = "GET /fapi/v1/apiTradingStatus"
ACCOUNT: Final = "ACCOUNT"  # apiTradingStatus's key for account-level indicators (TMV)
MAKER_RULE: Final = "maker"
ORPHAN_RULE: Final = "orphan"
REPLACEMENT_PREFIX: Final = "rp-"

Action = Literal["cancel", "cancel_and_market"]


class ReaperRule(FrozenModel):
    """Orders whose client id starts with *client_id_prefix*, older than *max_age_ms*.

    ``cancel_and_market`` cancels, then sends the unfilled remainder as a MARKET order
    (maker → taker).
    """

    client_id_prefix: str = Field(min_length=1)
    max_age_ms: int = Field(gt=0)
    action: Action = "cancel"


class ReaperConfig(FrozenModel):
    """The stale-order policy.

    A regular order is matched against *rules* longest prefix first (config order among
    equal lengths); the first match applies. When *maker_max_age_ms* is set, any GTX
    (post-only) order also falls under a ``cancel_and_market`` rule of that age; when both
    apply, the one with the shorter age wins (a tie goes to the prefix rule).

    *protected_prefixes* default to the StopLadder's ``RUNG_PREFIX`` (``riskd.protect.ladder``),
    repeated here rather than imported; keep them equal. Protected orders are never reaped,
    except algo orders whose (symbol, position side) has no position, once older than
    *orphan_grace_ms* (so a rung placed just before the position view caught up survives).
    Any client id starting with a protected prefix is protected, whoever placed it.
    """

    rules: tuple[ReaperRule, ...] = (
        ReaperRule(client_id_prefix="wTake_", max_age_ms=15_000),
        ReaperRule(client_id_prefix="MC_", max_age_ms=60_000),
    )
    maker_max_age_ms: int | None = Field(None, gt=0)
    protected_prefixes: tuple[str, ...] = ("rl",)
    orphan_grace_ms: int = Field(60_000, ge=0)
    # Hold cancels on a symbol once its GCR value reaches this fraction of the trigger.
    gcr_caution_ratio: Decimal = Field(Decimal("0.9"), gt=0, le=1)
    cancels_per_pass: int = Field(10, gt=0)

    @field_validator("protected_prefixes")
    @classmethod
    def _non_empty(cls, prefixes: tuple[str, ...]) -> tuple[str, ...]:
        if "" in prefixes:
            raise ValueError("an empty protected prefix would protect every order")
        return prefixes

    @model_validator(mode="after")
    def _rules_can_fire(self) -> ReaperConfig:
        seen: set[str] = set()
        for rule in self.rules:
            prefix = rule.client_id_prefix
            if prefix in seen:
                raise ValueError(f"two rules for client_id_prefix {prefix!r}")
            seen.add(prefix)
            if _protected(prefix, self.protected_prefixes):
                raise ValueError(f"rule {prefix!r} can never fire: its orders are protected")
        return self


@dataclass(frozen=True, slots=True)
class GcrStatus:
    """One apiTradingStatus key (a symbol, or ACCOUNT): its locks and its GCR reading."""

    locked_indicators: tuple[str, ...]  # indicators with isLocked, e.g. ("GCR",)
    planned_recover_time_ms: int  # the latest among the locked ones; 0 when none
    gcr_value: Decimal | None = None  # None when GCR is not listed
    gcr_trigger: Decimal | None = None

    @property
    def locked(self) -> bool:
        return bool(self.locked_indicators)


@dataclass(frozen=True, slots=True)
class Cancel:
    """A regular order to cancel, and the rule that reaped it (its prefix, or "maker")."""

    order: OpenOrder
    rule: str


@dataclass(frozen=True, slots=True)
class MarketOrder:
    """The taker order that replaces a cancelled maker order.

    Send it only after the cancel succeeded, resized by ``replacement_after_cancel``. The
    client id derives from the replaced order, so a retry cannot send two. In hedge mode
    (position side LONG/SHORT) Binance refuses the reduceOnly parameter: leave it out.
    """

    symbol: str
    side: str
    position_side: str
    quantity: Decimal
    reduce_only: bool
    client_order_id: str
    replaces_order_id: int

    def order_params(self) -> dict[str, str]:
        """The POST /fapi/v1/order parameters, as strings."""
        params = {
            "symbol": self.symbol,
            "side": self.side,
            "type": "MARKET",
            "quantity": f"{self.quantity:f}",
            "newClientOrderId": self.client_order_id,
        }
        if self.position_side != "BOTH":
            params["positionSide"] = self.position_side
        elif self.reduce_only:
            params["reduceOnly"] = "true"
        return params


@dataclass(frozen=True, slots=True)
class ReaperDecision:
    """One pass: cancels (oldest first) with their replacements, and what was held back."""

    cancels: tuple[Cancel, ...]
    market_replacements: tuple[MarketOrder, ...]
    orphan_rungs: tuple[OpenAlgoOrder, ...]
    held_back: Mapping[str, str]  # symbol → why nothing is cancelled on it
    alerts: tuple[str, ...]
    deferred: int  # due cancels left for the next pass by cancels_per_pass


def decide(
    open_orders: Iterable[OpenOrder],
    open_algos: Iterable[OpenAlgoOrder],
    positions: Set[tuple[str, str]] | None,
    gcr: Mapping[str, GcrStatus],
    now_ms: int,
    config: ReaperConfig,
) -> ReaperDecision:
    """What to cancel now.

    *positions* holds the (symbol, position side) of every open position, from a complete
    and current view; None when the book has no such view (right after it restarted, or while
    a reader is late): then no rung counts as an orphan, since its position may be there.
    *gcr* is ``parse_trading_status``'s result. An order is due when
    ``now_ms − time_ms > max_age_ms``. Nothing is cancelled on a locked or cautioned symbol,
    nor anywhere while the account is locked. At most ``cancels_per_pass`` cancels (orders
    and orphan rungs together), oldest first; ties go by order id, orders before algo orders.
    """
    rules = sorted(config.rules, key=lambda rule: -len(rule.client_id_prefix))
    orphan = _Rule(ORPHAN_RULE, config.orphan_grace_ms, "cancel")
    due: list[_Due] = []
    for order in open_orders:
        rule = _rule_for(order, rules, config)
        if rule is not None and now_ms - order.time_ms > rule.max_age_ms:
            due.append(_Due(order.time_ms, 0, order.order_id, order.symbol, rule, order))
    for algo in open_algos:
        if (
            positions is not None
            and _protected(algo.client_algo_id, config.protected_prefixes)
            and (algo.symbol, algo.position_side) not in positions
            and now_ms - algo.create_time_ms > config.orphan_grace_ms
        ):
            due.append(_Due(algo.create_time_ms, 1, algo.algo_id, algo.symbol, orphan, algo))
    due.sort(key=lambda item: (item.time_ms, item.kind, item.id))

    account = gcr.get(ACCOUNT)
    account_hold = None
    if account is not None and account.locked:
        account_hold = f"account locked by {_locks(account)}: not cancelling"
    held_back: dict[str, str] = {}
    allowed: list[_Due] = []
    for item in due:
        reason = account_hold or _hold_reason(gcr.get(item.symbol), config.gcr_caution_ratio)
        if reason is None:
            allowed.append(item)
        else:
            held_back.setdefault(item.symbol, reason)
    if account_hold:
        alerts = (f"reaper: {account_hold}",)
    else:
        alerts = tuple(f"reaper: {symbol}: {held_back[symbol]}" for symbol in sorted(held_back))

    sent = allowed[: config.cancels_per_pass]
    orders = [item for item in sent if isinstance(item.target, OpenOrder)]
    return ReaperDecision(
        cancels=tuple(Cancel(item.target, item.rule.name) for item in orders),
        market_replacements=tuple(
            _replacement(item.target)
            for item in orders
            if item.rule.action == "cancel_and_market" and item.target.remaining_qty > 0
        ),
        orphan_rungs=tuple(item.target for item in sent if isinstance(item.target, OpenAlgoOrder)),
        held_back=dict(sorted(held_back.items())),
        alerts=alerts,
        deferred=len(allowed) - len(sent),
    )


def replacement_after_cancel(
    replacement: MarketOrder, orig_qty: Decimal, executed_qty: Decimal
) -> MarketOrder | None:
    """*replacement* for what the cancel response says was left unfilled; None if nothing was.

    Fills between the reaper's read and the cancel shrink the remainder; sending the old
    quantity would over-trade.
    """
    remaining = orig_qty - executed_qty
    if remaining <= 0:
        return None
    return replace(replacement, quantity=min(remaining, replacement.quantity))


def parse_trading_status(body: Mapping[str, Any]) -> dict[str, GcrStatus]:
    """A GET /fapi/v1/apiTradingStatus body: symbol (or ACCOUNT) → its status.

    ``value`` and ``triggerValue`` are JSON numbers, floats included; a float becomes the
    Decimal of its shortest repr (``str``), which is the text Binance sent.
    """
    root = _Object.at(TRADING_STATUS, "", body)
    indicators = root._get("indicators")
    if not isinstance(indicators, Mapping):
        raise root.error("indicators", f"{_show(indicators)} is not an object")
    statuses: dict[str, GcrStatus] = {}
    for key, listed in indicators.items():
        path = f"indicators.{key}"
        if isinstance(listed, str | bytes) or not isinstance(listed, Sequence):
            raise PayloadError(TRADING_STATUS, path, f"{_show(listed)} is not a list")
        items = [_Object.at(TRADING_STATUS, f"{path}[{i}]", item) for i, item in enumerate(listed)]
        statuses[key] = _status(items)
    return statuses


def _status(items: Sequence[_Object]) -> GcrStatus:
    locked: list[str] = []
    recover_ms = 0
    gcr_value = gcr_trigger = None
    for item in items:
        name = item.text("indicator")
        is_locked = item._get("isLocked")
        if not isinstance(is_locked, bool):
            raise item.error("isLocked", f"{_show(is_locked)} is not a boolean")
        if is_locked:
            locked.append(name)
            recover_ms = max(recover_ms, item.time_ms("plannedRecoverTime"))
        if name == "GCR":
            gcr_value, gcr_trigger = _number(item, "value"), _number(item, "triggerValue")
    return GcrStatus(tuple(locked), recover_ms, gcr_value, gcr_trigger)


def _number(item: _Object, key: str) -> Decimal:
    value = item._get(key)
    if isinstance(value, float | int | str) and not isinstance(value, bool):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return number
    raise item.error(key, f"{_show(value)} is not a number")


@dataclass(frozen=True, slots=True)
class _Rule:
    """The rule that applies to one order: a prefix rule, the maker rule, or orphan cleanup."""

    name: str
    max_age_ms: int
    action: Action


@dataclass(frozen=True, slots=True)
class _Due:
    """An order or algo order past its age, with the sort key of "oldest first"."""

    time_ms: int
    kind: int  # 0 regular order, 1 algo order
    id: int
    symbol: str
    rule: _Rule
    target: OpenOrder | OpenAlgoOrder


def _rule_for(order: OpenOrder, rules: Sequence[ReaperRule], config: ReaperConfig) -> _Rule | None:
    """The rule for *order*: *rules* are longest prefix first; the shorter-aged of it and the
    maker rule applies (a tie goes to the prefix rule); protected orders have none."""
    if _protected(order.client_order_id, config.protected_prefixes):
        return None
    found = next((r for r in rules if order.client_order_id.startswith(r.client_id_prefix)), None)
    prefix = (
        None if found is None else _Rule(found.client_id_prefix, found.max_age_ms, found.action)
    )
    maker_age = config.maker_max_age_ms
    if (
        maker_age is not None
        and order.time_in_force == "GTX"
        and (prefix is None or maker_age < prefix.max_age_ms)
    ):
        return _Rule(MAKER_RULE, maker_age, "cancel_and_market")
    return prefix


def _hold_reason(status: GcrStatus | None, caution: Decimal) -> str | None:
    """Why nothing may be cancelled on a symbol with *status*, or None."""
    if status is None:
        return None
    if status.locked:
        return f"locked by {_locks(status)}: not cancelling"
    value, trigger = status.gcr_value, status.gcr_trigger
    if value is not None and trigger is not None and value >= caution * trigger:
        return f"GCR {value} ≥ {caution} × {trigger}: not cancelling"
    return None


def _locks(status: GcrStatus) -> str:
    return f"{', '.join(status.locked_indicators)} until {status.planned_recover_time_ms}"


def _protected(client_id: str, prefixes: Sequence[str]) -> bool:
    return client_id.startswith(tuple(prefixes))


def _replacement(order: OpenOrder) -> MarketOrder:
    return MarketOrder(
        symbol=order.symbol,
        side=order.side,
        position_side=order.position_side,
        quantity=order.remaining_qty,
        reduce_only=order.reduce_only,
        client_order_id=f"{REPLACEMENT_PREFIX}{order.order_id}",
        replaces_order_id=order.order_id,
    )
