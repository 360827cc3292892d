"""The stop ladder's decisions: exchange-native STOP_MARKET rungs protecting every position.

The StopLadder actor reads positions and open algo orders and carries out what these functions
decide. Nothing here keeps state: a ladder is rebuilt from the exchange's open algo orders.

* Triggers sit ``first_offset_pct + i × step_pct`` percent adverse from the entry and round
  *away* from the price (floor for a long's SELL stop, ceil for a short's BUY stop), so no
  rung is closer to the price than configured.
* Every rung's clientAlgoId is ``rl<account tag>.<side><generation>.<rung>.<symbol>``
  (``rung_client_id``): the same plan always gives the same ids, and Binance refuses an id
  already open, so a retried placement cannot create a second ladder.
* Generations count up per position. A re-ladder places generation N+1 beside N and cancels
  N only once N+1 is open in full and fits the position (confirm, then cancel).
* A generation found part-placed (a placement cut short by a failure, or by a crash before a
  restart) is completed under its own ids, unless the actor saw its missing rungs open: they
  then left the exchange, and a lone ladder is re-laddered with an alert.
* Binance rests one closePosition stop per direction (−4130), so a new generation's
  closePosition rung waits until the older one is cancelled; its quantity rungs cover the
  whole position meanwhile.
* Re-laddering never asks for more rungs than a ladder has: rungs go missing on purpose
  (minQty merges, the account's order cap, triggered rungs whose fills shrank the position),
  and chasing them would re-place on every pass.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final, Literal

from pydantic import Field, ValidationError, model_validator

from riskd.core.frozen import FrozenModel
from riskd.exchange.filters import SymbolFilters
from riskd.orders import OpenAlgoOrder
from riskd.positions import PositionKey, PositionRecord

RUNG_PREFIX: Final = "rl"
MARKET_REDUCE_PREFIX: Final = "rm"
MAX_RUNGS: Final = 20
MAX_GENERATION: Final = 36**5 - 1

ZERO: Final = Decimal(0)
_BASE36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
_SIDE_CODE: Final = {"BOTH": "B", "LONG": "L", "SHORT": "S"}
_SIDE_NAME: Final = {code: side for side, code in _SIDE_CODE.items()}
_PLAIN_SYMBOL: Final = re.compile(r"[A-Z0-9_]{1,20}")
_RUNG_ID: Final = re.compile(
    RUNG_PREFIX
    + r"([0-9a-f]{4})\.([BLS])([1-9a-z][0-9a-z]{0,4})\.([0-9a-z])\.([A-Z0-9_]{1,20}|h[0-9a-f]{11})"
)


class LadderConfig(FrozenModel):
    """One symbol's ladder; the defaults are the seed's (5 rungs from 5 % adverse, 0.5 % apart).

    ``backstop`` adds a closePosition=true rung one step beyond the last; a position whose
    size changes by more than ``resize_threshold_pct`` percent of the ladder is re-laddered.
    """

    rungs: int = Field(5, ge=1, le=MAX_RUNGS)
    first_offset_pct: Decimal = Field(Decimal(5), gt=0)
    step_pct: Decimal = Field(Decimal("0.5"), ge=0)
    backstop: bool = False
    resize_threshold_pct: Decimal = Field(Decimal(5), ge=0)
    working_type: Literal["MARK_PRICE", "CONTRACT_PRICE"] = "MARK_PRICE"
    price_protect: bool = True

    @model_validator(mode="after")
    def _offsets_below_100(self) -> LadderConfig:
        farthest = self.first_offset_pct + self.rungs * self.step_pct
        if farthest >= 100:
            raise ValueError(
                f"first_offset_pct + rungs × step_pct = {farthest} % must stay below 100 % "
                "(a long's farthest stop would be at or below zero)"
            )
        return self


class StopLadderConfig(FrozenModel):
    """The StopLadder job: the default ladder, per-symbol overrides and the account's cap.

    An override names only what it changes; the rest comes from ``default``.
    """

    default: LadderConfig = LadderConfig()
    symbols: dict[str, LadderConfig] = Field(default_factory=dict)
    max_algo_orders_per_account: int = Field(200, ge=1)
    # The full read of the open algo orders (weight 40) comes once per job interval while the
    # budget can pay it and keep its retry reserve; when cancels need the weight, it waits,
    # but never longer than this.
    snapshot_max_age_ms: int = Field(30_000, ge=1_000, le=300_000)

    @model_validator(mode="after")
    def _overrides_combine(self) -> StopLadderConfig:
        for symbol in self.symbols:
            self.for_symbol(symbol)
        return self

    def for_symbol(self, symbol: str) -> LadderConfig:
        """*symbol*'s ladder: ``default`` with the symbol's override applied."""
        override = self.symbols.get(symbol)
        if override is None:
            return self.default
        try:
            return LadderConfig.model_validate(
                {**self.default.model_dump(), **override.model_dump(exclude_unset=True)}
            )
        except ValidationError as error:
            raise ValueError(f"symbols.{symbol}: {error}") from None


# ------------------------------------------------------------------------ client ids


@dataclass(frozen=True, slots=True)
class RungId:
    """What a rung's clientAlgoId says. ``symbol`` is the symbol's tag (see ``symbol_tag``)."""

    account_tag: str
    symbol: str
    position_side: str
    generation: int
    rung: int


def account_tag(account: str) -> str:
    """A short stable tag for *account*: the first 4 hex digits of its SHA-256."""
    return hashlib.sha256(account.encode()).hexdigest()[:4]


def symbol_tag(symbol: str) -> str:
    """*symbol* itself if it fits a client id, else ``h`` + 11 hex digits of its SHA-256.

    Binance lists symbols that are not ASCII or longer than 20 characters; they too get stops.
    """
    if _PLAIN_SYMBOL.fullmatch(symbol):
        return symbol
    return "h" + hashlib.sha256(symbol.encode()).hexdigest()[:11]


def rung_client_id(
    account: str, symbol: str, position_side: str, generation: int, rung: int
) -> str:
    """The deterministic clientAlgoId of one rung, at most 36 characters.

    ``rl`` + account tag, then side (B/L/S) and generation in base 36, the rung in base 36,
    the symbol's tag: ``rl3f2a.L1.0.BTCUSDT``.
    """
    if position_side not in _SIDE_CODE:
        raise ValueError(f"position side must be BOTH, LONG or SHORT, got {position_side!r}")
    if not 1 <= generation <= MAX_GENERATION:
        raise ValueError(f"generation {generation} is outside 1..{MAX_GENERATION}")
    if not 0 <= rung < len(_BASE36):
        raise ValueError(f"rung {rung} is outside 0..{len(_BASE36) - 1}")
    return (
        f"{RUNG_PREFIX}{account_tag(account)}.{_SIDE_CODE[position_side]}"
        f"{_base36(generation)}.{_BASE36[rung]}.{symbol_tag(symbol)}"
    )


def parse_rung_client_id(client_algo_id: str) -> RungId | None:
    """The inverse of ``rung_client_id``; None for ids riskd did not make."""
    match = _RUNG_ID.fullmatch(client_algo_id)
    if match is None:
        return None
    tag, side, generation, rung, symbol = match.groups()
    return RungId(tag, symbol, _SIDE_NAME[side], int(generation, 36), int(rung, 36))


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _BASE36[digit] + digits
        if not number:
            return digits


# ------------------------------------------------------------------------ ladders


@dataclass(frozen=True, slots=True)
class Rung:
    """One STOP_MARKET order of a ladder; a closePosition rung has quantity 0."""

    index: int
    trigger_price: Decimal
    quantity: Decimal
    close_position: bool
    client_algo_id: str

    @property
    def is_backstop(self) -> bool:
        """The optional closePosition rung beyond the quantity rungs (not a lone fallback)."""
        return self.close_position and self.index > 0


@dataclass(frozen=True, slots=True)
class Ladder:
    """One generation of stops for one position.

    ``side`` is SELL for a long, BUY for a short. ``reduce_only`` holds in one-way mode; in
    hedge mode Binance refuses reduceOnly and ``position_side`` makes the orders closing.
    """

    account: str
    symbol: str
    position_side: str
    side: str
    generation: int
    rungs: tuple[Rung, ...]
    reduce_only: bool
    working_type: str
    price_protect: bool

    @property
    def key(self) -> PositionKey:
        return PositionKey(self.symbol, self.position_side)

    @property
    def total_quantity(self) -> Decimal:
        """What the quantity rungs close together; closePosition rungs count 0."""
        return sum((rung.quantity for rung in self.rungs), ZERO)

    def order_params(self, filters: SymbolFilters) -> list[dict[str, str]]:
        """The POST /fapi/v1/algoOrder parameters of every rung, as strings."""
        params = []
        for rung in self.rungs:
            order = {
                "algoType": "CONDITIONAL",
                "symbol": self.symbol,
                "side": self.side,
                "positionSide": self.position_side,
                "type": "STOP_MARKET",
                "triggerPrice": filters.format_price(rung.trigger_price),
            }
            if rung.close_position:  # Binance takes neither quantity nor reduceOnly with it
                order["closePosition"] = "true"
            else:
                order["quantity"] = filters.format_quantity(rung.quantity)
                if self.reduce_only:
                    order["reduceOnly"] = "true"
            order["workingType"] = self.working_type
            order["priceProtect"] = "TRUE" if self.price_protect else "FALSE"
            order["clientAlgoId"] = rung.client_algo_id
            params.append(order)
        return params


def plan_ladder(
    position: PositionRecord,
    filters: SymbolFilters,
    config: LadderConfig,
    *,
    account: str,
    generation: int,
) -> Ladder | None:
    """The ladder *config* wants for *position*; None if it is flat.

    Quantities are |amount| / rungs floored to stepSize with the remainder on the last rung;
    when that leaves a rung below minQty, fewer rungs. If no split fits LOT_SIZE (below minQty,
    above rungs × maxQty, or off the step grid) the ladder is one closePosition rung, which
    needs no quantity. Reduce-only orders are exempt from MIN_NOTIONAL, so notional never merges.
    """
    if position.amount == 0:
        return None
    if position.entry_price <= 0:
        raise ValueError(
            f"{position.symbol} {position.position_side}: entry price "
            f"{position.entry_price:f} must be > 0 to place stops"
        )
    long = position.amount > 0
    ladder = Ladder(
        account=account,
        symbol=position.symbol,
        position_side=position.position_side,
        side="SELL" if long else "BUY",
        generation=generation,
        rungs=(),
        reduce_only=position.position_side == "BOTH",
        working_type=config.working_type,
        price_protect=config.price_protect,
    )
    quantities = _split(abs(position.amount), filters, config.rungs)
    if quantities is None:
        quantities = (ZERO,)
    elif config.backstop:
        quantities += (ZERO,)
    return replace(
        ladder,
        rungs=tuple(
            _rung(ladder, index, _trigger(position.entry_price, index, long, filters, config), q)
            for index, q in enumerate(quantities)
        ),
    )


def _rung(ladder: Ladder, index: int, trigger: Decimal, quantity: Decimal) -> Rung:
    """Rung *index* of *ladder*; quantity 0 makes it a closePosition rung."""
    return Rung(
        index=index,
        trigger_price=trigger,
        quantity=quantity,
        close_position=quantity == 0,
        client_algo_id=rung_client_id(
            ladder.account, ladder.symbol, ladder.position_side, ladder.generation, index
        ),
    )


def _split(total: Decimal, filters: SymbolFilters, rungs: int) -> tuple[Decimal, ...] | None:
    """*total* as at most *rungs* LOT_SIZE quantities, remainder last; None if none fits."""
    if total % filters.step_size:
        return None
    for count in range(rungs, 0, -1):
        base = filters.floor_quantity(total / count)
        if base <= 0 or base < filters.min_qty:
            continue
        last = total - base * (count - 1)
        return None if last > filters.max_qty else (base,) * (count - 1) + (last,)
    return None


def _multiplier(index: int, long: bool, config: LadderConfig) -> Decimal:
    """Rung *index*'s trigger as a multiple of the entry price, before rounding."""
    offset = (config.first_offset_pct + index * config.step_pct) / 100
    return 1 - offset if long else 1 + offset


def _trigger(
    entry: Decimal, index: int, long: bool, filters: SymbolFilters, config: LadderConfig
) -> Decimal:
    """Rung *index*'s trigger, rounded away from the price onto the tick grid.

    Away means never closer than configured. A trigger outside PRICE_FILTER's range is
    pulled back to its edge: closer than configured, but a stop Binance accepts.
    """
    raw = entry * _multiplier(index, long, config)
    if long:
        return max(
            filters.floor_price(raw), filters.ceil_price(max(filters.min_price, filters.tick_size))
        )
    if filters.max_price > 0:
        return min(filters.ceil_price(raw), filters.floor_price(filters.max_price))
    return filters.ceil_price(raw)


# ------------------------------------------------------------------------ re-laddering


def reladder_reason(
    current: Ladder, position: PositionRecord, filters: SymbolFilters, config: LadderConfig
) -> str | None:
    """Why *current* no longer fits *position*, or None if it still does.

    Sizes compare with the ladder's total quantity and re-ladder only beyond the threshold;
    a closePosition-only ladder covers any size. Triggers compare at the nearest open rung and
    re-ladder only when the entry moved it by more than one tick. Config changes count when
    they drop rungs, move offsets, or change workingType or priceProtect.
    """
    if position.amount == 0:
        return "position closed"
    long = position.amount > 0
    if long != (current.side == "SELL"):
        return f"position side changed: a {'long' if long else 'short'} under {current.side} stops"
    changed = _config_change(current, filters, config)
    if changed is not None:
        return f"config changed: {changed}"
    total = current.total_quantity
    if total:
        pct = abs(abs(position.amount) - total) / total * 100
        if pct > config.resize_threshold_pct:
            return (
                f"size changed by {pct:.2f} % (> {config.resize_threshold_pct} %): "
                f"{abs(position.amount):f} against {total:f}"
            )
    anchor = current.rungs[0]
    wanted = _trigger(position.entry_price, anchor.index, long, filters, config)
    ticks = abs(wanted - anchor.trigger_price) / filters.tick_size
    if ticks > 1:
        return (
            f"first trigger moved by {ticks:f} ticks "
            f"({anchor.trigger_price:f} → {wanted:f}, entry {position.entry_price:f})"
        )
    return None


def _config_change(ladder: Ladder, filters: SymbolFilters, config: LadderConfig) -> str | None:
    if ladder.working_type != config.working_type:
        return f"workingType {ladder.working_type} → {config.working_type}"
    if ladder.price_protect != config.price_protect:
        return f"priceProtect {ladder.price_protect} → {config.price_protect}"
    for rung in ladder.rungs:
        if rung.index > config.rungs or (not rung.close_position and rung.index >= config.rungs):
            return f"rung {rung.index} is beyond the {config.rungs} rungs configured"
    if not config.backstop and any(rung.is_backstop for rung in ladder.rungs):
        return "backstop no longer configured"
    return _offset_mismatch(ladder, filters, config)


def _offset_mismatch(ladder: Ladder, filters: SymbolFilters, config: LadderConfig) -> str | None:
    """Rungs no entry price could give under *config*'s offsets, named; else None.

    The nearest rung's trigger bounds the entry it came from to one tick's worth; every other
    rung must lie between the triggers of that range's ends.
    """
    long = ladder.side == "SELL"
    anchor = ladder.rungs[0]
    scale = _multiplier(anchor.index, long, config)
    tick = filters.tick_size
    low, high = anchor.trigger_price, anchor.trigger_price
    if long:
        high += tick
    else:
        low -= tick
    for rung in ladder.rungs[1:]:
        lowest = _trigger(low / scale, rung.index, long, filters, config)
        highest = _trigger(high / scale, rung.index, long, filters, config)
        if not lowest <= rung.trigger_price <= highest:
            return (
                f"rung {rung.index} trigger {rung.trigger_price:f} is off the configured "
                f"offsets (expected {lowest:f}..{highest:f})"
            )
    return None


def _gaps(ladder: Ladder) -> list[int]:
    """Rung indices missing between the ladder's nearest and farthest open rungs."""
    present = {rung.index for rung in ladder.rungs}
    return [i for i in range(min(present), max(present)) if i not in present]


def _fits(
    ladder: Ladder, position: PositionRecord, filters: SymbolFilters, config: LadderConfig
) -> bool:
    return not _gaps(ladder) and reladder_reason(ladder, position, filters, config) is None


# ------------------------------------------------------------------------ exchange state


@dataclass(frozen=True, slots=True)
class LadderState:
    """riskd's open rungs for one position, read from the exchange, by generation.

    ``generations`` maps each generation with open rungs to them, in rung order.
    """

    account: str
    symbol: str
    position_side: str
    generations: Mapping[int, tuple[OpenAlgoOrder, ...]]

    @property
    def current(self) -> int:
        """The highest generation open."""
        return max(self.generations)

    @property
    def orphans(self) -> tuple[OpenAlgoOrder, ...]:
        """Rungs of generations older than ``current``."""
        return tuple(
            o for g, orders in self.generations.items() if g < self.current for o in orders
        )

    def orders(self) -> tuple[OpenAlgoOrder, ...]:
        """Every open rung, oldest generation first."""
        return tuple(order for orders in self.generations.values() for order in orders)

    def ladder(self, generation: int) -> Ladder:
        """*generation*'s open rungs as a Ladder."""
        orders = self.generations[generation]
        first = orders[0]
        return Ladder(
            account=self.account,
            symbol=self.symbol,
            position_side=self.position_side,
            side=first.side,
            generation=generation,
            rungs=tuple(
                Rung(
                    index=_rung_index(order),
                    trigger_price=order.trigger_price,
                    quantity=ZERO if order.close_position else order.quantity,
                    close_position=order.close_position,
                    client_algo_id=order.client_algo_id,
                )
                for order in orders
            ),
            reduce_only=self.position_side == "BOTH",
            working_type=first.working_type,
            price_protect=first.price_protect,
        )


def _rung_index(order: OpenAlgoOrder) -> int:
    rung_id = parse_rung_client_id(order.client_algo_id)
    assert rung_id is not None, order.client_algo_id  # LadderState holds riskd's rungs only
    return rung_id.rung


def ladder_from_open_orders(
    account: str, open_algos: Sequence[OpenAlgoOrder]
) -> dict[PositionKey, LadderState]:
    """*account*'s ladders from its open algo orders, by position; other orders are ignored."""
    tag = account_tag(account)
    found: dict[PositionKey, dict[int, list[tuple[int, OpenAlgoOrder]]]] = {}
    for order in open_algos:
        rung_id = parse_rung_client_id(order.client_algo_id)
        if (
            rung_id is None
            or rung_id.account_tag != tag
            or rung_id.symbol != symbol_tag(order.symbol)
            or rung_id.position_side != order.position_side
            or order.order_type != "STOP_MARKET"
        ):
            continue
        key = PositionKey(order.symbol, rung_id.position_side)
        found.setdefault(key, {}).setdefault(rung_id.generation, []).append((rung_id.rung, order))
    return {
        key: LadderState(
            account=account,
            symbol=key.symbol,
            position_side=key.position_side,
            generations={
                generation: tuple(order for _, order in sorted(rungs, key=lambda item: item[0]))
                for generation, rungs in sorted(generations.items())
            },
        )
        for key, generations in found.items()
    }


def snapshot_due(age_ms: int | None, interval_ms: int, max_age_ms: int, spare: bool) -> bool:
    """Whether a pass reads the open algo orders in full, its view being *age_ms* old (None:
    never read): once per *interval_ms* while the budget is *spare*, and at *max_age_ms*
    (at least one interval) whatever the budget. In between, the job's acknowledgements and
    the stream's ALGO_UPDATEs keep the view current."""
    if age_ms is None:
        return True
    return age_ms >= max(max_age_ms, interval_ms) or (age_ms >= interval_ms and spare)


def seen_open_rungs(seen: Collection[str], open_algos: Sequence[OpenAlgoOrder]) -> frozenset[str]:
    """The clientAlgoIds of the rungs seen open before (*seen*) or now (*open_algos*), kept
    for the generations that still have open rungs."""
    now = {o.client_algo_id for o in open_algos if parse_rung_client_id(o.client_algo_id)}
    generations = {_generation(client_id) for client_id in now}
    return frozenset(now | {c for c in seen if _generation(c) in generations})


def _generation(client_algo_id: str) -> tuple[str, str, str, int] | None:
    """The ladder generation a rung's clientAlgoId names."""
    rung = parse_rung_client_id(client_algo_id)
    return rung and (rung.account_tag, rung.symbol, rung.position_side, rung.generation)


# ------------------------------------------------------------------------ one reconcile pass


@dataclass(frozen=True, slots=True)
class LadderActions:
    """What one pass does for one position: place ``place``'s rungs, cancel ``cancel``."""

    place: Ladder | None = None
    cancel: tuple[OpenAlgoOrder, ...] = ()
    reason: str = ""
    alerts: tuple[str, ...] = ()


def plan_actions(
    position: PositionRecord | None,
    state: LadderState | None,
    filters: SymbolFilters,
    config: LadderConfig,
    *,
    account: str,
    seen_open: Collection[str] = frozenset(),
) -> LadderActions:
    """The decision of one reconcile pass for one position.

    *state* must be read after the previous pass's placements were resolved (an unknown
    status is looked up by clientAlgoId first). Flat: cancel every rung. Otherwise the newest
    generation that is open in full and fits the position is the live ladder, and every other
    generation is cancelled; until one fits, nothing is cancelled and the next generation is
    placed. A pending generation that still matches the plan is completed under its own ids:
    one placed beside an older generation, or a lone one none of whose missing rungs the job
    has seen open (*seen_open*, clientAlgoIds), so never whole: its placement was cut short,
    by a failure or a crash. A lone ladder that lost rungs the job saw open is re-laddered.
    """
    open_rungs = state.orders() if state else ()
    if position is None or position.amount == 0:
        if not open_rungs:
            return LadderActions()
        return LadderActions(
            cancel=open_rungs, reason=f"position closed: cancelling {len(open_rungs)} rungs"
        )
    generations = state.generations if state else {}
    ladders = {g: state.ladder(g) for g in generations} if state else {}
    highest = max(ladders, default=0)
    if ladders:
        lost = frozenset() if len(ladders) > 1 else seen_open
        completion = _complete_pending(ladders[highest], position, filters, config, lost)
        if completion is not None:
            return completion
    live = next(
        (g for g in sorted(ladders, reverse=True) if _fits(ladders[g], position, filters, config)),
        None,
    )
    if live is not None:
        stale = tuple(o for g, orders in generations.items() if g != live for o in orders)
        if stale:
            return LadderActions(
                cancel=stale,
                reason=f"generation {live} is open and fits: cancelling {len(stale)} other rungs",
            )
        backstop = _missing_backstop(ladders[live], filters, config)
        if backstop is None:
            return LadderActions()
        return LadderActions(
            place=replace(ladders[live], rungs=(backstop,)),
            reason=f"placing the backstop of generation {live}",
        )
    reason, alerts = _why(ladders.get(highest), position, filters, config, alone=len(ladders) == 1)
    target = plan_ladder(position, filters, config, account=account, generation=highest + 1)
    assert target is not None  # the position is open
    place = _without_blocked_close(target, open_rungs)
    if not place.rungs:
        return LadderActions(
            reason=f"{reason}; keeping the open closePosition stop (Binance rests one per side)",
            alerts=alerts,
        )
    return LadderActions(
        place=place, reason=f"{reason}: placing generation {highest + 1}", alerts=alerts
    )


def _complete_pending(
    pending: Ladder,
    position: PositionRecord,
    filters: SymbolFilters,
    config: LadderConfig,
    lost: Collection[str],
) -> LadderActions | None:
    """The quantity rungs a generation not yet confirmed lacks, if its plan still holds and
    none of them is in *lost* (rungs that were open: the generation is not pending).

    closePosition rungs wait until the older generations are cancelled (−4130).
    """
    planned = plan_ladder(
        position, filters, config, account=pending.account, generation=pending.generation
    )
    assert planned is not None  # the position is open
    by_id = {rung.client_algo_id: rung for rung in planned.rungs}
    if any(by_id.get(rung.client_algo_id) != rung for rung in pending.rungs):
        return None
    present = {rung.client_algo_id for rung in pending.rungs}
    missing = tuple(
        r for r in planned.rungs if r.client_algo_id not in present and not r.close_position
    )
    if not missing or any(rung.client_algo_id in lost for rung in missing):
        return None
    indices = [rung.index for rung in missing]
    return LadderActions(
        place=replace(planned, rungs=missing),
        reason=f"completing generation {pending.generation}: rungs {indices} are not open",
    )


def _why(
    ladder: Ladder | None,
    position: PositionRecord,
    filters: SymbolFilters,
    config: LadderConfig,
    *,
    alone: bool,
) -> tuple[str, tuple[str, ...]]:
    """Why the newest generation is not the live ladder; an alert if it was live and lost rungs."""
    if ladder is None:
        return "no ladder", ()
    gaps = _gaps(ladder)
    if gaps:
        alert = (
            f"{ladder.account} {ladder.symbol} {ladder.position_side}: stop rungs {gaps} of "
            f"generation {ladder.generation} left the exchange without their position "
            "shrinking (cancelled outside riskd?); re-laddering"
        )
        return f"rungs {gaps} of generation {ladder.generation} are missing", (
            (alert,) if alone else ()
        )
    return reladder_reason(ladder, position, filters, config) or "ladder does not fit", ()


def _without_blocked_close(ladder: Ladder, open_rungs: Sequence[OpenAlgoOrder]) -> Ladder:
    """*ladder* less its closePosition rungs while one rests on the same side (−4130)."""
    if not any(o.close_position and o.side == ladder.side for o in open_rungs):
        return ladder
    return replace(ladder, rungs=tuple(r for r in ladder.rungs if not r.close_position))


def _missing_backstop(ladder: Ladder, filters: SymbolFilters, config: LadderConfig) -> Rung | None:
    """The backstop a live ladder with quantity rungs still lacks, at its own entry price."""
    if not config.backstop or any(rung.close_position for rung in ladder.rungs):
        return None
    long = ladder.side == "SELL"
    anchor = ladder.rungs[0]
    entry = anchor.trigger_price / _multiplier(anchor.index, long, config)
    index = ladder.rungs[-1].index + 1
    return _rung(ladder, index, _trigger(entry, index, long, filters, config), ZERO)


# ------------------------------------------------------------------------ one account


@dataclass(frozen=True, slots=True)
class AccountActions:
    """What one pass does for a whole account: place ``place``'s ladders (fitted to the
    account's cap), cancel ``cancel``; ``open_ladders`` counts the ladders found open."""

    place: Mapping[PositionKey, Ladder]
    cancel: tuple[OpenAlgoOrder, ...]
    alerts: tuple[str, ...]
    open_ladders: int


def plan_account(
    positions: Mapping[PositionKey, PositionRecord],
    open_algos: Sequence[OpenAlgoOrder],
    filters: Mapping[str, SymbolFilters],
    config: StopLadderConfig,
    *,
    account: str,
    complete: bool,
    seen_open: Collection[str] = frozenset(),
) -> AccountActions:
    """One reconcile pass over *account*: ``plan_actions`` for every position and ladder
    (with the rungs the job has seen open, *seen_open*), then ``fit_to_account_limit``.

    Unless *complete* (a fresh complete snapshot backs *positions*), "no position" may only
    mean "not read yet": a ladder without a position is then kept, never cancelled as an
    orphan. A symbol missing from *filters* (exchangeInfo) gets no ladder and an alert.
    """
    states = ladder_from_open_orders(account, open_algos)
    planned: dict[PositionKey, Ladder] = {}
    cancels: list[OpenAlgoOrder] = []
    alerts: list[str] = []
    for key in sorted(set(positions) | set(states) if complete else set(positions)):
        symbol_filters = filters.get(key.symbol)
        if symbol_filters is None:
            alerts.append(f"{key.symbol}: not in exchangeInfo; no ladder")
            continue
        actions = plan_actions(
            positions.get(key),
            states.get(key),
            symbol_filters,
            config.for_symbol(key.symbol),
            account=account,
            seen_open=seen_open,
        )
        if actions.place is not None:
            planned[key] = actions.place
        cancels.extend(actions.cancel)
        alerts.extend(actions.alerts)
    fitted, limit_alerts = fit_to_account_limit(
        planned, len(open_algos), config.max_algo_orders_per_account
    )
    return AccountActions(fitted, tuple(cancels), (*alerts, *limit_alerts), len(states))


# ------------------------------------------------------------------------ account limit


def fit_to_account_limit(
    planned: Mapping[PositionKey, Ladder], open_count: int, limit: int
) -> tuple[dict[PositionKey, Ladder], tuple[str, ...]]:
    """*planned* placements cut so that they fit beside *open_count* open conditional orders.

    *open_count* includes the generations a re-ladder replaces: they stay open until the new
    one is confirmed. When the cap binds, backstops go first, then the widest ladders merge
    their farthest rung into the one before (never below one rung), and an alert says so.
    """
    ladders = dict(planned)
    needed = sum(len(ladder.rungs) for ladder in ladders.values())
    excess = open_count + needed - limit
    if excess <= 0 or not ladders:
        return ladders, ()
    dropped = 0
    for key in sorted(ladders):
        if excess <= 0:
            break
        kept = tuple(rung for rung in ladders[key].rungs if not rung.is_backstop)
        cut = len(ladders[key].rungs) - len(kept)
        if kept:
            ladders[key] = replace(ladders[key], rungs=kept)
        else:
            del ladders[key]
        excess -= cut
        dropped += cut
    while excess > 0:
        widest = max(sorted(ladders), key=lambda k: len(ladders[k].rungs), default=None)
        if widest is None or len(ladders[widest].rungs) == 1:
            break
        ladders[widest] = _merge_farthest(ladders[widest])
        excess -= 1
        dropped += 1
    accounts = ", ".join(sorted({ladder.account for ladder in planned.values()}))
    alert = (
        f"{accounts}: the {limit} conditional-order cap binds ({open_count} open + {needed} "
        f"planned); {dropped} stop rungs dropped by merging into fewer rungs"
    )
    if excess > 0:
        alert += f"; still {excess} over, Binance will refuse those (−4045)"
    return ladders, (alert,)


def _merge_farthest(ladder: Ladder) -> Ladder:
    """*ladder* with its farthest rung's quantity moved onto the rung before it."""
    *kept, before, farthest = ladder.rungs
    merged = replace(before, quantity=before.quantity + farthest.quantity)
    return replace(ladder, rungs=(*kept, merged))


# ------------------------------------------------------------------------ −2021


@dataclass(frozen=True, slots=True)
class MarketReduce:
    """A market order closing what a rung would have, for a stop Binance refused with −2021.

    ``client_order_id`` derives from the rung's id. Binance keeps client ids unique only among
    open orders and a market order never rests, so look it up (origClientOrderId) before any
    retry.
    """

    symbol: str
    side: str
    position_side: str
    quantity: Decimal
    reduce_only: bool
    client_order_id: str
    alert: str

    def order_params(self, filters: SymbolFilters) -> dict[str, str]:
        """The POST /fapi/v1/order parameters, as strings."""
        params = {
            "symbol": self.symbol,
            "side": self.side,
            "positionSide": self.position_side,
            "type": "MARKET",
            "quantity": filters.format_quantity(self.quantity, market=True),
        }
        if self.reduce_only:
            params["reduceOnly"] = "true"
        params["newClientOrderId"] = self.client_order_id
        return params


def on_would_trigger(ladder: Ladder, rung: Rung, position: PositionRecord) -> MarketReduce | None:
    """The market reduce for *rung*, refused with −2021 (the price is already past its trigger).

    The rung's quantity (at most the position), or the whole position for a closePosition
    rung. None if the position is flat or no longer on the side the ladder protects.
    """
    if position.amount == 0 or (position.amount > 0) != (ladder.side == "SELL"):
        return None
    size = abs(position.amount)
    quantity = size if rung.close_position else min(rung.quantity, size)
    return MarketReduce(
        symbol=ladder.symbol,
        side=ladder.side,
        position_side=ladder.position_side,
        quantity=quantity,
        reduce_only=ladder.reduce_only,
        client_order_id=MARKET_REDUCE_PREFIX + rung.client_algo_id.removeprefix(RUNG_PREFIX),
        alert=(
            f"{ladder.account} {ladder.symbol} {ladder.position_side}: stop rung {rung.index} of "
            f"generation {ladder.generation} at {rung.trigger_price:f} would trigger at once "
            f"(−2021, the price is past it); reducing {quantity:f} at market"
        ),
    )
