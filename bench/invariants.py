"""What riskd promises after any fault, checked on evidence captured once it has recovered:
no income row lost or duplicated, no duplicate or orphan stop, every position laddered within
its target time, the ban list correct or expired (never silently stale), every alert delivered
once, no gate decision lost.

``check(evidence)`` is pure: it judges plain data (``Evidence``) and says what is wrong
(``Findings``). ``capture`` reads that data from a running deployment: the simulator (its
``GET /_sim/state``, or the ``SimServer`` object when it runs in this process), the gateway's
``GET /v1/banlist`` and riskd's SQL.

Clocks: times stamped by the exchange (income, positions, stops) are compared with the
exchange's clock (``exchange_now_ms``), riskd's (ban list, locks, outbox) with riskd's
(``now_ms``). The ledger's read mark is riskd's clock but names exchange times (it is the
``endTime`` it asked for), so income compares with it directly.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy import Connection, Engine, func, select

from riskd.core.clock import wall_ms
from riskd.protect.ladder import account_tag, parse_rung_client_id, symbol_tag
from riskd.risk.banlist import BanList
from riskd.risk.lock_store import trading_state
from riskd.sim import SimServer
from riskd.store.schema import (
    alert_outbox,
    banlist_versions,
    income,
    ledger_cursors,
    locks,
    order_decisions,
)

SHOWN: Final = 3  # descriptions per kind of finding; the rest are counted
OPEN: Final = "NEW"  # an algo order's algoStatus while it rests
SENT: Final = "sent"
FAILED: Final = "failed"


# ---------------------------------------------------------------- the evidence


@dataclass(frozen=True, slots=True)
class Targets:
    """How long riskd may take before a state counts against it (each in ms), and the
    ladder's resize threshold. A state younger than its target is in flight, not wrong."""

    ladder_ms: int = 2_000  # a position laddered, a flat one's rungs cancelled, a re-ladder done
    income_lag_ms: int = 30_000  # exchange income this old is booked even if the Ledger is late
    publish_ms: int = 2_000  # a version in SQL reaches the gateway
    alert_ms: int = 10_000  # a queued notification is sent
    repeat_ms: int = 3_600_000  # shortest repeat interval: an identical telling sooner is twice
    resize_pct: Decimal = Decimal(5)  # a ladder covers a position up to this much larger


@dataclass(frozen=True, slots=True)
class IncomeRow:
    """One income row, as the exchange holds it or as riskd booked it (key: tranId, type)."""

    tran_id: int
    income_type: str
    symbol: str
    amount: Decimal
    time_ms: int

    @property
    def key(self) -> tuple[int, str]:
        return self.tran_id, self.income_type


@dataclass(frozen=True, slots=True)
class PositionRow:
    """A position on the exchange; ``amount`` 0 is a flat one, flat since ``update_ms``."""

    symbol: str
    position_side: str
    amount: Decimal
    update_ms: int


@dataclass(frozen=True, slots=True)
class AlgoRow:
    """An algo order on the exchange (``open_algo_orders``); ``quantity`` 0 with
    ``close_position``."""

    client_algo_id: str
    symbol: str
    position_side: str
    side: str
    order_type: str
    status: str
    quantity: Decimal
    close_position: bool
    created_ms: int


@dataclass(frozen=True, slots=True)
class ActiveLock:
    """A lock SQL holds active; ``until_ms`` None: until an operator unlocks it."""

    id: int
    until_ms: int | None


@dataclass(frozen=True, slots=True)
class BanListVersion:
    """The latest ``banlist_versions`` row of the account."""

    version: int
    generated_ms: int
    valid_until_ms: int


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One ``alert_outbox`` row: a notification (JSON) for one receiver."""

    id: int
    receiver: str
    status: str  # pending | sent | failed
    created_ms: int
    notification: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the checks need, captured after a fault's recovery (see the module's clocks).

    ``income_read_ms``: the last time the Ledger read income up to (``ledger_cursors.
    updated_at_ms``), None before its first page; exchange income stamped at or before it, or
    older than ``targets.income_lag_ms``, must be booked. ``income_since_ms``: older income is
    not riskd's to book. ``banlist_json``: the gateway's answer, None when it served none.
    ``recovery_began_ms`` (riskd's clock): targets count from it for what the fault held up.
    ``orders_sent``: robot orders the gateway answered (placed or refused by the gate).
    """

    account: str
    now_ms: int
    exchange_now_ms: int | None = None  # None: the exchange's clock is riskd's
    recovery_began_ms: int | None = None
    exchange_income: tuple[IncomeRow, ...] = ()
    ledger_income: tuple[IncomeRow, ...] = ()
    income_read_ms: int | None = None
    income_since_ms: int = 0
    positions: tuple[PositionRow, ...] = ()
    algo_orders: tuple[AlgoRow, ...] = ()
    banlist_json: str | None = None
    active_locks: tuple[ActiveLock, ...] = ()
    sql_banlist: BanListVersion | None = None
    sql_state: str = "ACTIVE"
    outbox: tuple[OutboxRow, ...] = ()
    decisions_recorded: int = 0
    orders_sent: int = 0
    targets: Targets = field(default_factory=Targets)

    @property
    def exchange_ms(self) -> int:
        """The exchange's clock at the capture."""
        return self.now_ms if self.exchange_now_ms is None else self.exchange_now_ms

    def recovery_on_exchange_ms(self) -> int | None:
        """``recovery_began_ms`` on the exchange's clock."""
        if self.recovery_began_ms is None:
            return None
        return self.recovery_began_ms + self.exchange_ms - self.now_ms


# ---------------------------------------------------------------- the findings


@dataclass(frozen=True, slots=True)
class Findings:
    """What is wrong, counted, with a short description of each (``notes``).

    ``decisions_extra`` (decisions beyond the orders answered: a request whose answer was lost)
    and ``banlist_expired`` are information; they do not make the findings fail.
    """

    income_lost: int = 0
    income_duplicated: int = 0
    stops_duplicated: int = 0
    stops_orphaned: int = 0
    positions_bare: int = 0
    banlist_stale: int = 0
    alerts_duplicated: int = 0
    alerts_undelivered: int = 0
    decisions_lost: int = 0
    decisions_extra: int = 0
    banlist_expired: bool = False
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicates or self.orphans or self.bare or self.stale)

    @property
    def lost(self) -> int:
        """Income rows, notifications and gate decisions lost."""
        return self.income_lost + self.alerts_undelivered + self.decisions_lost

    @property
    def duplicates(self) -> int:
        """Income rows, stops and notifications there once too often."""
        return self.income_duplicated + self.stops_duplicated + self.alerts_duplicated

    @property
    def orphans(self) -> int:
        return self.stops_orphaned

    @property
    def bare(self) -> int:
        return self.positions_bare

    @property
    def stale(self) -> int:
        return self.banlist_stale

    def describe(self) -> list[str]:
        """One short line per finding (a few per kind, the rest counted)."""
        return list(self.notes)

    def summary(self) -> str:
        """For a table row: ``lost 0, duplicates 0, orphans 0, bare 0, stale 0``."""
        return (
            f"lost {self.lost}, duplicates {self.duplicates}, orphans {self.orphans}, "
            f"bare {self.bare}, stale {self.stale}"
        )


class _Notes:
    """Descriptions by kind, each kind cut to SHOWN lines and a count of the rest."""

    def __init__(self) -> None:
        self._by_kind: dict[str, list[str]] = defaultdict(list)

    def add(self, kind: str, text: str) -> None:
        self._by_kind[kind].append(text)

    def lines(self) -> tuple[str, ...]:
        out = []
        for kind, texts in self._by_kind.items():
            out += [f"{kind}: {text}" for text in texts[:SHOWN]]
            if len(texts) > SHOWN:
                out.append(f"{kind}: and {len(texts) - SHOWN} more")
        return tuple(out)


# ---------------------------------------------------------------- the checks


def check(evidence: Evidence) -> Findings:
    """Every invariant judged on *evidence*."""
    notes = _Notes()
    lost, duplicated = _income(evidence, notes)
    stops_duplicated, orphaned, bare = _stops(evidence, notes)
    stale, expired = _banlist(evidence, notes)
    alerts_duplicated, undelivered = _alerts(evidence, notes)
    decisions_lost = max(0, evidence.orders_sent - evidence.decisions_recorded)
    if decisions_lost:
        notes.add(
            "gate decisions lost",
            f"{evidence.orders_sent} orders answered, {evidence.decisions_recorded} recorded",
        )
    return Findings(
        income_lost=lost,
        income_duplicated=duplicated,
        stops_duplicated=stops_duplicated,
        stops_orphaned=orphaned,
        positions_bare=bare,
        banlist_stale=stale,
        alerts_duplicated=alerts_duplicated,
        alerts_undelivered=undelivered,
        decisions_lost=decisions_lost,
        decisions_extra=max(0, evidence.decisions_recorded - evidence.orders_sent),
        banlist_expired=expired,
        notes=notes.lines(),
    )


def _income(evidence: Evidence, notes: _Notes) -> tuple[int, int]:
    """(lost, duplicated). Lost: an exchange row due (stamped at or before the Ledger's read
    mark, or older than the lag target) that SQL lacks or holds with another amount.
    Duplicated: a key SQL holds more than once, or a row the exchange does not have."""
    exchange = {row.key: row for row in evidence.exchange_income}
    booked = Counter(row.key for row in evidence.ledger_income)
    amounts = {row.key: row.amount for row in evidence.ledger_income}
    due_ms = evidence.exchange_ms - evidence.targets.income_lag_ms
    if evidence.income_read_ms is not None:
        due_ms = max(due_ms, evidence.income_read_ms)
    lost = 0
    for key, row in sorted(exchange.items(), key=lambda item: item[1].time_ms):
        if not evidence.income_since_ms <= row.time_ms <= due_ms:
            continue
        if key not in booked:
            lost += 1
            notes.add("income lost", f"{_income_name(row)} at {row.time_ms} not booked")
        elif amounts[key] != row.amount:
            lost += 1
            notes.add(
                "income lost",
                f"{_income_name(row)} booked as {amounts[key]:f}, the exchange has {row.amount:f}",
            )
    duplicated = 0
    for row in evidence.ledger_income:
        if row.key not in exchange:
            duplicated += 1
            notes.add("income duplicated", f"{_income_name(row)} booked, not on the exchange")
    for key, count in booked.items():
        if count > 1:
            duplicated += count - 1
            notes.add("income duplicated", f"{key[1]} {key[0]} booked {count} times")
    return lost, duplicated


def _income_name(row: IncomeRow) -> str:
    return f"{row.income_type} {row.tran_id} {row.symbol or '(account)'} {row.amount:f}"


def _stops(evidence: Evidence, notes: _Notes) -> tuple[int, int, int]:
    """(duplicated, orphaned, bare) over riskd's open rungs and the exchange's positions.

    A rung is riskd's when its clientAlgoId parses as the account's (tag, symbol, side) and it
    is an open STOP_MARKET. Per position (symbol, position side):

    * orphaned: every rung of a flat position, once ``ladder_ms`` passed since it went flat
      (or since recovery began; at once when neither time is known);
    * duplicated: each rung beyond the first with the same (generation, rung index); and once
      ``ladder_ms`` passed since the position's newest rung was placed, every rung of a
      generation other than the live one (the newest that covers the position, else the
      newest) — two generations left open;
    * bare: a non-zero position no open generation covers, once ``ladder_ms`` passed since it
      last changed (or since recovery began). A generation covers it with a closePosition rung
      on the closing side, or with closing quantity rungs whose total is within the resize
      threshold of it (|amount| ≤ total × (1 + resize_pct/100)); more stop is still cover.
    """
    targets = evidence.targets
    now = evidence.exchange_ms
    recovery = evidence.recovery_on_exchange_ms()
    ladders = _ladders(evidence.account, evidence.algo_orders)
    positions = {(p.symbol, p.position_side): p for p in evidence.positions}
    duplicated = orphaned = bare = 0
    for key in sorted(set(ladders) | {k for k, p in positions.items() if p.amount}):
        generations = ladders.get(key, {})
        position = positions.get(key)
        name = f"{key[0]} {key[1]}"
        if position is None or not position.amount:
            since = _latest(position.update_ms if position else None, recovery)
            if since is None or now - since >= targets.ladder_ms:
                rungs = [rung for rungs in generations.values() for _, rung in rungs]
                orphaned += len(rungs)
                for rung in rungs:
                    notes.add("stop orphaned", f"{rung.client_algo_id} ({name} is flat)")
            continue
        for generation, rungs in sorted(generations.items()):
            for index, count in sorted(Counter(index for index, _ in rungs).items()):
                if count > 1:
                    duplicated += count - 1
                    notes.add("stop duplicated", f"{name} g{generation} rung {index} open {count}×")
        covering = [g for g, rungs in generations.items() if _covers(rungs, position, targets)]
        if len(generations) > 1:
            live = max(covering) if covering else max(generations)
            newest = max(rung.created_ms for rungs in generations.values() for _, rung in rungs)
            if now - newest >= targets.ladder_ms:
                others = sorted(g for g in generations if g != live)
                duplicated += sum(len(generations[g]) for g in others)
                listed = ", ".join(f"g{g}" for g in others)
                notes.add("stop duplicated", f"{name}: {listed} open beside live g{live}")
        since = _latest(position.update_ms, recovery)
        assert since is not None
        if not covering and now - since >= targets.ladder_ms:
            bare += 1
            cover = max(
                (_cover(rungs, position) for rungs in generations.values()), default=Decimal(0)
            )
            notes.add(
                "position bare",
                f"{name} {position.amount:f} for {now - since} ms, stops cover {cover:f}",
            )
    return duplicated, orphaned, bare


def _latest(*times: int | None) -> int | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _ladders(
    account: str, orders: Iterable[AlgoRow]
) -> dict[tuple[str, str], dict[int, list[tuple[int, AlgoRow]]]]:
    """riskd's open rungs of *account* by position, then generation: (rung index, order)."""
    tag = account_tag(account)
    found: dict[tuple[str, str], dict[int, list[tuple[int, AlgoRow]]]] = {}
    for order in orders:
        rung = parse_rung_client_id(order.client_algo_id)
        if (
            rung is None
            or order.status != OPEN
            or order.order_type != "STOP_MARKET"
            or rung.account_tag != tag
            or rung.symbol != symbol_tag(order.symbol)
            or rung.position_side != order.position_side
        ):
            continue
        key = (order.symbol, order.position_side)
        found.setdefault(key, {}).setdefault(rung.generation, []).append((rung.rung, order))
    return found


def _closing(rungs: Iterable[tuple[int, AlgoRow]], position: PositionRow) -> list[AlgoRow]:
    side = "SELL" if position.amount > 0 else "BUY"
    return [rung for _, rung in rungs if rung.side == side]


def _cover(rungs: Iterable[tuple[int, AlgoRow]], position: PositionRow) -> Decimal:
    """What the closing rungs close: |amount| with a closePosition rung, else their total."""
    closing = _closing(rungs, position)
    if any(rung.close_position for rung in closing):
        return abs(position.amount)
    return sum((rung.quantity for rung in closing), Decimal(0))


def _covers(rungs: Iterable[tuple[int, AlgoRow]], position: PositionRow, targets: Targets) -> bool:
    total = _cover(rungs, position)
    return total > 0 and abs(position.amount) <= total * (1 + targets.resize_pct / 100)


def _banlist(evidence: Evidence, notes: _Notes) -> tuple[int, bool]:
    """(stale, expired). Only a list the gateway still vouches for (valid_until > now) can be
    stale: one SQL never recorded, or ahead of SQL's latest version; one behind SQL's latest
    for ``publish_ms`` or more; at SQL's latest version, locks (those not past their end)
    other than SQL's active ones, or a state other than SQL's. A list behind SQL's latest by
    less than ``publish_ms`` is in flight."""
    if evidence.banlist_json is None:
        return 0, False
    now = evidence.now_ms
    try:
        banlist = BanList.from_json(evidence.banlist_json)
    except ValueError as error:
        notes.add("ban list stale", f"the gateway's list is unreadable: {error}")
        return 1, False
    if banlist.expired(now):
        return 0, True
    valid = f"v{banlist.version} valid {banlist.valid_until_ms - now} ms more"
    latest = evidence.sql_banlist
    if latest is None:
        notes.add("ban list stale", f"{valid}, but SQL records no version")
        return 1, False
    if banlist.version > latest.version:
        notes.add("ban list stale", f"{valid}, ahead of SQL's v{latest.version}")
        return 1, False
    if banlist.version < latest.version:
        behind_ms = now - latest.generated_ms
        if behind_ms < evidence.targets.publish_ms:
            return 0, False
        notes.add("ban list stale", f"{valid}, SQL's v{latest.version} is {behind_ms} ms old")
        return 1, False
    served = {lock.id for lock in banlist.locks if _in_force(lock.until_ms, now)}
    active = {lock.id for lock in evidence.active_locks if _in_force(lock.until_ms, now)}
    stale = 0
    if served != active:
        stale = 1
        notes.add(
            "ban list stale",
            f"{valid}: locks {sorted(served)}, SQL's active {sorted(active)}",
        )
    if banlist.state != evidence.sql_state:
        stale = 1
        notes.add("ban list stale", f"{valid}: state {banlist.state}, SQL's {evidence.sql_state}")
    return stale, False


def _in_force(until_ms: int | None, now_ms: int) -> bool:
    return until_ms is None or until_ms > now_ms


def _alerts(evidence: Evidence, notes: _Notes) -> tuple[int, int]:
    """(duplicated, undelivered). Duplicated: a row (pending or sent) telling a receiver what
    an earlier row told it less than ``repeat_ms`` before: the same group, the same firing
    and resolved alerts (name, labels, start), whenever it was flushed. Undelivered: a failed
    row, or a pending one queued ``alert_ms`` or more ago."""
    duplicated = undelivered = 0
    told: dict[tuple[str, object], int] = {}
    for row in sorted(evidence.outbox, key=lambda r: (r.created_ms, r.id)):
        age = evidence.now_ms - row.created_ms
        if row.status == FAILED or (row.status != SENT and age >= evidence.targets.alert_ms):
            undelivered += 1
            notes.add(
                "alert undelivered",
                f"#{row.id} to {row.receiver} {row.status} for {age} ms: {_group(row)}",
            )
        if row.status == FAILED:
            continue
        key = (row.receiver, _telling(row.notification))
        before = told.get(key)
        if before is not None and row.created_ms - before < evidence.targets.repeat_ms:
            duplicated += 1
            notes.add(
                "alert duplicated",
                f"#{row.id} to {row.receiver} tells again ({row.created_ms - before} ms "
                f"later): {_group(row)}",
            )
        told[key] = row.created_ms
    return duplicated, undelivered


def _telling(notification: str) -> object:
    """What a notification tells, whenever it was flushed: its group and its alerts."""
    try:
        data = json.loads(notification)
        return (
            data["group_key"],
            _alert_set(data["firing"]),
            _alert_set(data["resolved"]),
        )
    except (ValueError, KeyError, TypeError):
        return notification


def _alert_set(alerts: Iterable[Mapping[str, Any]]) -> frozenset[tuple[str, str, int]]:
    return frozenset(
        (a["name"], json.dumps(a["labels"], sort_keys=True), a["starts_ms"]) for a in alerts
    )


def _group(row: OutboxRow) -> str:
    """A notification's alerts' names, for a description."""
    try:
        data = json.loads(row.notification)
        names = [a["name"] for a in data["firing"]] + [
            f"{a['name']} (resolved)" for a in data["resolved"]
        ]
    except (ValueError, KeyError, TypeError):
        return "(unreadable)"
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


# ---------------------------------------------------------------- the capture


def capture(
    sim: SimServer | str,
    gateway_url: str,
    engine: Engine,
    account: str,
    orders_sent: int = 0,
    *,
    sim_account: str | None = None,
    recovery_began_ms: int | None = None,
    decisions_since_ms: int = 0,
    income_since_ms: int = 0,
    targets: Targets | None = None,
    token: str | None = None,
    timeout_s: float = 5.0,
) -> Evidence:
    """The evidence of *account* now: the gateway's ban list first, then riskd's SQL (in one
    transaction, so it is at least as new as the list), then the exchange (so that SQL holds
    no income the capture has not seen on it).

    *sim*: a ``riskd.sim.SimServer`` running in this process (its flat positions then come
    with the time they went flat) or the simulator's base URL (``GET /_sim/state``).
    *sim_account*: the simulator's name for the account (default *account*, or the only one).
    """
    banlist_json = read_banlist(gateway_url, account, token, timeout_s)
    now_ms = wall_ms()
    with engine.connect() as conn, conn.begin():
        sql = read_sql(conn, account, decisions_since_ms)
    exchange_now_ms, positions, algos, exchange_income = read_exchange(
        sim, sim_account or account, timeout_s
    )
    return Evidence(
        account=account,
        now_ms=now_ms,
        exchange_now_ms=exchange_now_ms,
        recovery_began_ms=recovery_began_ms,
        exchange_income=exchange_income,
        income_since_ms=income_since_ms,
        positions=positions,
        algo_orders=algos,
        banlist_json=banlist_json,
        orders_sent=orders_sent,
        targets=targets or Targets(),
        **sql,
    )


def read_banlist(gateway_url: str, account: str, token: str | None, timeout_s: float) -> str | None:
    """``GET {gateway}/v1/banlist?account=``: the JSON, or None when the gateway serves none
    (503 before the first publish, or the gateway down)."""
    request = urllib.request.Request(
        f"{gateway_url.rstrip('/')}/v1/banlist?account={quote(account, safe='')}",
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.read().decode()
    except urllib.error.HTTPError as error:
        if error.code in (503, 502, 504):
            return None
        raise
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return None


def read_sql(conn: Connection, account: str, decisions_since_ms: int = 0) -> dict[str, Any]:
    """riskd's side of the evidence, as ``Evidence`` keyword arguments."""
    booked = conn.execute(
        select(
            income.c.tran_id,
            income.c.income_type,
            income.c.symbol,
            income.c.amount,
            income.c.time_ms,
        ).where(income.c.account == account)
    )
    read_ms = conn.scalar(
        select(ledger_cursors.c.updated_at_ms).where(ledger_cursors.c.account == account)
    )
    active = conn.execute(
        select(locks.c.id, locks.c.until_ms).where(locks.c.account == account, locks.c.active)
    )
    latest = conn.execute(
        select(
            banlist_versions.c.version,
            banlist_versions.c.generated_at_ms,
            banlist_versions.c.valid_until_ms,
        )
        .where(banlist_versions.c.account == account)
        .order_by(banlist_versions.c.version.desc())
        .limit(1)
    ).first()
    outbox = conn.execute(
        select(
            alert_outbox.c.id,
            alert_outbox.c.receiver,
            alert_outbox.c.status,
            alert_outbox.c.created_ms,
            alert_outbox.c.notification,
        )
    )
    decisions = conn.scalar(
        select(func.count())
        .select_from(order_decisions)
        .where(
            order_decisions.c.account == account,
            order_decisions.c.decided_ms >= decisions_since_ms,
        )
    )
    return {
        "ledger_income": tuple(IncomeRow(*row) for row in booked),
        "income_read_ms": read_ms,
        "active_locks": tuple(ActiveLock(row.id, row.until_ms) for row in active),
        "sql_banlist": None if latest is None else BanListVersion(*latest),
        "sql_state": str(trading_state(conn, account).state),
        "outbox": tuple(OutboxRow(*row) for row in outbox),
        "decisions_recorded": int(decisions or 0),
    }


def read_exchange(
    sim: SimServer | str, name: str, timeout_s: float = 5.0
) -> tuple[int, tuple[PositionRow, ...], tuple[AlgoRow, ...], tuple[IncomeRow, ...]]:
    """The exchange's side: its clock, positions, open algo orders and income of account
    *name* (as ``GET /_sim/state`` shows them; from a SimServer, flat positions too)."""
    if isinstance(sim, str):
        url = f"{sim.rstrip('/')}/_sim/state"
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            state = json.load(response)
    else:
        state = sim.exchange.state()
    accounts = state["accounts"]
    if name not in accounts and len(accounts) == 1:
        name = next(iter(accounts))
    data = accounts[name]
    positions = [
        PositionRow(p["symbol"], p["positionSide"], Decimal(p["positionAmt"]), p["updateTime"])
        for p in data["positions"]
    ]
    if not isinstance(sim, str):
        held = sim.exchange.account_by_key(data["api_key"])
        for p in list(held.positions.values()) if held else ():
            if not p.amount:
                positions.append(PositionRow(p.symbol, p.position_side, p.amount, p.update_time_ms))
    algos = tuple(
        AlgoRow(
            client_algo_id=a["clientAlgoId"],
            symbol=a["symbol"],
            position_side=a["positionSide"],
            side=a["side"],
            order_type=a["orderType"],
            status=a["algoStatus"],
            quantity=Decimal(a["quantity"] or "0"),
            close_position=bool(a["closePosition"]),
            created_ms=int(a["createTime"]),
        )
        for a in data["open_algo_orders"]
    )
    exchange_income = tuple(
        IncomeRow(
            int(r["tranId"]), r["incomeType"], r["symbol"], Decimal(r["income"]), int(r["time"])
        )
        for r in data["income"]
    )
    return int(state["time"]), tuple(positions), algos, exchange_income
