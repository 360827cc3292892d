"""The PositionBook: positions and balances merged from several exchange sources.

Each source (GET /fapi/v2|v3/account, GET /fapi/v3/positionRisk, the user-data stream's
ACCOUNT_UPDATE) hands the book a SourceSnapshot. The book keeps one record per
(symbol, position_side) and one per asset, and merges by Binance's updateTime (the record's
last change), never by arrival:

* A reported record replaces the book's record unless it is older: a smaller update_time_ms,
  or the same update_time_ms from a snapshot taken earlier than the book's record. The same
  updateTime means the same position, so fields the newer report leaves out (None) are kept
  from the older one.
* A zero amount is a flat position. It is kept under the same rule, so that an older report
  cannot reopen it, and it is left out of the view.
* A complete snapshot taken at T says that every key it leaves out was flat at T. The book
  closes such a key unless its record changed at or after T or came from a snapshot taken at
  or after T; a later report of a key that was left out counts only if it changed at or after
  T. An incomplete snapshot never closes anything.

The stream is a source like the others: its records carry the event's transaction time, and
its snapshots are incomplete, so it closes a key only by reporting a zero amount for it.

For alerting, BookChanges.disagreements names keys two reports give different amounts for at
the same updateTime, BookChanges.unstreamed names changes a REST source brought long after
they happened (a stream that is connected but stalled delivers nothing, so only this shows
it), and silent_sources names sources that stopped answering; the book keeps merging
whatever the other sources send.

Times are Binance server times in milliseconds, passed in; the book never reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any, Generic, NamedTuple, TypeVar

ACCOUNT_SOURCE = "account"  # GET /fapi/v2|v3/account
POSITION_RISK_SOURCE = "position_risk"  # GET /fapi/v2|v3/positionRisk
STREAM_SOURCE = "stream"  # the user-data stream's ACCOUNT_UPDATE
FULL_SOURCES = frozenset({ACCOUNT_SOURCE, POSITION_RISK_SOURCE})
"""The sources whose snapshots are complete: a fresh one lets the book vouch for flat keys."""


class PositionKey(NamedTuple):
    """A position's identity: hedge mode holds a LONG and a SHORT per symbol, one-way a BOTH."""

    symbol: str
    position_side: str


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """One position as a source reported it; ``amount`` is signed (short < 0), zero is flat."""

    symbol: str
    position_side: str
    amount: Decimal
    entry_price: Decimal
    update_time_ms: int
    break_even_price: Decimal | None = None
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    liquidation_price: Decimal | None = None

    @property
    def key(self) -> PositionKey:
        return PositionKey(self.symbol, self.position_side)


@dataclass(frozen=True, slots=True)
class BalanceRecord:
    """One asset's balance as a source reported it."""

    asset: str
    wallet_balance: Decimal
    update_time_ms: int
    unrealized_pnl: Decimal | None = None
    margin_balance: Decimal | None = None
    available_balance: Decimal | None = None


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    """What one source said in one answer.

    ``taken_at_ms`` is the server time when the request was sent. ``balances`` is None when
    the source says nothing about balances. A ``complete`` snapshot lists every open position
    (and, with balances, every asset): a key it leaves out is flat.
    """

    source: str
    taken_at_ms: int
    positions: tuple[PositionRecord, ...]
    balances: tuple[BalanceRecord, ...] | None = None
    complete: bool = True

    def __post_init__(self) -> None:
        for what, keys in (
            ("positions", [" ".join(record.key) for record in self.positions]),
            ("balances", [record.asset for record in self.balances or ()]),
        ):
            repeated = sorted({key for key in keys if keys.count(key) > 1})
            if repeated:
                raise ValueError(f"{self.source}: {what} listed twice: {repeated}")


@dataclass(frozen=True, slots=True)
class BookChanges:
    """What one snapshot changed, for callers that react (the stop ladder, alerts).

    ``changed`` lists positions that stay open but changed on the exchange (a newer
    updateTime, or another amount); fresher marks alone are not a change. ``balances_changed``
    lists assets added, removed, or with a new wallet balance or updateTime.
    ``disagreements`` lists positions two reports give different amounts for the same
    updateTime. ``unstreamed`` lists positions whose change a REST source brought first and
    the stream has still not reported ``stream_grace_ms`` after the change (each is listed
    once): a connected but stalled stream shows only this way.
    """

    opened: tuple[PositionKey, ...] = ()
    changed: tuple[PositionKey, ...] = ()
    closed: tuple[PositionKey, ...] = ()
    balances_changed: tuple[str, ...] = ()
    disagreements: tuple[PositionKey, ...] = ()
    unstreamed: tuple[PositionKey, ...] = ()

    @property
    def empty(self) -> bool:
        """True when there is nothing to react to or to note."""
        return not (
            self.opened
            or self.changed
            or self.closed
            or self.balances_changed
            or self.disagreements
            or self.unstreamed
        )


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """When a source last answered; whether that is stale is decided by the caller."""

    source: str
    taken_at_ms: int
    received_at_ms: int
    age_ms: int


@dataclass(frozen=True, slots=True)
class BookView:
    """The book at ``now_ms``: open positions by (symbol, side), balances by asset, sources."""

    now_ms: int
    positions: tuple[PositionRecord, ...]
    balances: tuple[BalanceRecord, ...]
    sources: tuple[SourceStatus, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able data; Decimals become their exact decimal text ("0.010")."""
        return {
            "now_ms": self.now_ms,
            "positions": [_jsonable(record) for record in self.positions],
            "balances": [_jsonable(record) for record in self.balances],
            "sources": [_jsonable(status) for status in self.sources],
        }


def _jsonable(obj: PositionRecord | BalanceRecord | SourceStatus) -> dict[str, Any]:
    return {field.name: _json_value(getattr(obj, field.name)) for field in fields(obj)}


def _json_value(value: object) -> object:
    return f"{value:f}" if isinstance(value, Decimal) else value


_K = TypeVar("_K", PositionKey, str)
_R = TypeVar("_R", PositionRecord, BalanceRecord)


@dataclass(frozen=True, slots=True)
class _Held(Generic[_R]):
    record: _R
    reported_at_ms: int  # taken_at_ms of the snapshot that reported this record


class _Table(Generic[_K, _R]):
    """One record per key, merged by the rules in the module docstring."""

    def __init__(self) -> None:
        self._held: dict[_K, _Held[_R]] = {}
        self._unlisted_flat_at_ms: int | None = None  # keys left out of a complete snapshot

    @property
    def complete_seen(self) -> bool:
        """Whether a complete snapshot was merged (before it, every key is new)."""
        return self._unlisted_flat_at_ms is not None

    def get(self, key: _K) -> _R | None:
        held = self._held.get(key)
        return None if held is None else held.record

    def records(self) -> Iterable[_R]:
        return (held.record for held in self._held.values())

    def merge(
        self, records: Mapping[_K, _R], taken_at_ms: int, *, complete: bool
    ) -> dict[_K, tuple[_R | None, _R | None]]:
        """Apply one snapshot; return the keys it wrote or removed, as (before, after)."""
        steps: dict[_K, tuple[_R | None, _R | None]] = {}
        for key, record in records.items():
            held = self._held.get(key)
            if held is None:
                flat_at_ms = self._unlisted_flat_at_ms
                if flat_at_ms is not None and record.update_time_ms < flat_at_ms:
                    continue
                self._held[key] = _Held(record, taken_at_ms)
                steps[key] = (None, record)
                continue
            before = held.record
            if (record.update_time_ms, taken_at_ms) < (before.update_time_ms, held.reported_at_ms):
                continue
            if record.update_time_ms == before.update_time_ms:
                record = _keep_missing(record, before)
            self._held[key] = _Held(record, taken_at_ms)
            steps[key] = (before, record)
        if complete:
            for key, held in list(self._held.items()):
                if (
                    key not in records
                    and held.record.update_time_ms < taken_at_ms
                    and held.reported_at_ms < taken_at_ms
                ):
                    del self._held[key]
                    steps[key] = (held.record, None)
            if self._unlisted_flat_at_ms is None or taken_at_ms > self._unlisted_flat_at_ms:
                self._unlisted_flat_at_ms = taken_at_ms
        return steps


def _keep_missing(newer: _R, older: _R) -> _R:
    """*newer* with the fields it leaves out (None) taken from *older*."""
    kept = {f.name: getattr(older, f.name) for f in fields(newer) if getattr(newer, f.name) is None}
    return replace(newer, **kept)


@dataclass(frozen=True, slots=True)
class _SourceState:
    taken_at_ms: int
    received_at_ms: int


class PositionBook:
    """Positions per (symbol, position_side) and balances per asset, from every source.

    *stream_grace_ms* is how long the stream may take to report a change before a REST
    source reporting it first counts as the stream having missed it.
    """

    def __init__(self, stream_grace_ms: int = 3_000) -> None:
        self.stream_grace_ms = stream_grace_ms
        # Changes a REST source brought first, until the stream reports them: key → record.
        self._awaiting_stream: dict[PositionKey, PositionRecord] = {}
        self._positions: _Table[PositionKey, PositionRecord] = _Table()
        self._balances: _Table[str, BalanceRecord] = _Table()
        self._sources: dict[str, _SourceState] = {}

    def apply(self, snapshot: SourceSnapshot, received_at_ms: int) -> BookChanges:
        """Merge *snapshot*, received at *received_at_ms*; return what it changed."""
        reported = {record.key: record for record in snapshot.positions}
        disagreements = [
            key
            for key, record in reported.items()
            if (held := self._positions.get(key)) is not None
            and held.update_time_ms == record.update_time_ms
            and held.amount != record.amount
        ]
        initialised = self._positions.complete_seen
        steps = self._positions.merge(reported, snapshot.taken_at_ms, complete=snapshot.complete)
        unstreamed = self._track_stream(snapshot, reported, steps, initialised=initialised)
        balance_steps = (
            {}
            if snapshot.balances is None
            else self._balances.merge(
                {record.asset: record for record in snapshot.balances},
                snapshot.taken_at_ms,
                complete=snapshot.complete,
            )
        )
        self._note_source(snapshot, received_at_ms)
        return BookChanges(
            opened=_sorted(k for k, (b, a) in steps.items() if not _open(b) and _open(a)),
            changed=_sorted(k for k, (b, a) in steps.items() if _position_changed(b, a)),
            closed=_sorted(k for k, (b, a) in steps.items() if _open(b) and not _open(a)),
            balances_changed=_sorted(
                asset for asset, (b, a) in balance_steps.items() if _balance_changed(b, a)
            ),
            disagreements=_sorted(disagreements),
            unstreamed=_sorted(unstreamed),
        )

    def view(self, now_ms: int) -> BookView:
        """Open positions, balances and each source's age at *now_ms*."""
        return BookView(
            now_ms=now_ms,
            positions=tuple(
                sorted(
                    (record for record in self._positions.records() if record.amount != 0),
                    key=lambda record: record.key,
                )
            ),
            balances=tuple(sorted(self._balances.records(), key=lambda record: record.asset)),
            sources=tuple(
                SourceStatus(
                    source=name,
                    taken_at_ms=state.taken_at_ms,
                    received_at_ms=state.received_at_ms,
                    age_ms=now_ms - state.received_at_ms,
                )
                for name, state in sorted(self._sources.items())
            ),
        )

    def _track_stream(
        self,
        snapshot: SourceSnapshot,
        reported: Mapping[PositionKey, PositionRecord],
        steps: Mapping[PositionKey, tuple[PositionRecord | None, PositionRecord | None]],
        *,
        initialised: bool,
    ) -> list[PositionKey]:
        """Note the changes a REST source brought first, clear those the stream then reports,
        and return (and forget) those the stream has not reported within the grace."""
        if snapshot.source == STREAM_SOURCE:
            for key, record in reported.items():
                awaited = self._awaiting_stream.get(key)
                if awaited is not None and (
                    record.update_time_ms >= awaited.update_time_ms
                    or record.amount == awaited.amount
                ):
                    del self._awaiting_stream[key]
        elif initialised:
            for key, (before, after) in steps.items():
                if after is not None and _amount(before) != after.amount:
                    self._awaiting_stream[key] = after
        late_ms = snapshot.taken_at_ms - self.stream_grace_ms
        overdue = sorted(
            key
            for key, awaited in self._awaiting_stream.items()
            if awaited.update_time_ms < late_ms
        )
        for key in overdue:
            del self._awaiting_stream[key]
        return overdue

    def silent_sources(self, now_ms: int, max_age_ms: Mapping[str, int]) -> tuple[str, ...]:
        """Sources in *max_age_ms* not heard from within their allowed age, or never heard."""
        return tuple(
            source
            for source, allowed_ms in sorted(max_age_ms.items())
            if (state := self._sources.get(source)) is None
            or now_ms - state.received_at_ms > allowed_ms
        )

    def complete_and_fresh(self, now_ms: int, max_age_ms: Mapping[str, int]) -> bool:
        """Whether one of FULL_SOURCES in *max_age_ms* answered within its allowed age: only
        then does the book's silence about a position mean the position is flat."""
        silent = self.silent_sources(now_ms, max_age_ms)
        return any(source in FULL_SOURCES and source not in silent for source in max_age_ms)

    def _note_source(self, snapshot: SourceSnapshot, received_at_ms: int) -> None:
        """Remember the source's latest request and answer times; neither moves backwards."""
        latest = _SourceState(snapshot.taken_at_ms, received_at_ms)
        last = self._sources.get(snapshot.source, latest)
        self._sources[snapshot.source] = _SourceState(
            max(last.taken_at_ms, latest.taken_at_ms),
            max(last.received_at_ms, latest.received_at_ms),
        )


def _amount(record: PositionRecord | None) -> Decimal:
    return Decimal(0) if record is None else record.amount


def _open(record: PositionRecord | None) -> bool:
    return record is not None and record.amount != 0


def _position_changed(before: PositionRecord | None, after: PositionRecord | None) -> bool:
    """An open position that stays open but changed on the exchange."""
    if before is None or after is None or before.amount == 0 or after.amount == 0:
        return False
    return after.update_time_ms > before.update_time_ms or after.amount != before.amount


def _balance_changed(before: BalanceRecord | None, after: BalanceRecord | None) -> bool:
    if before is None or after is None:
        return True
    return (
        after.update_time_ms != before.update_time_ms
        or after.wallet_balance != before.wallet_balance
    )


def _sorted(keys: Iterable[_K]) -> tuple[_K, ...]:
    return tuple(sorted(keys))
