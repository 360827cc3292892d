"""The ``[market]`` section: which symbols and intervals the feed carries, its readers, the
WebSocket, the hot set, and how old data may get before the gateway refuses to serve it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from riskd.core.frozen import FrozenModel
from riskd.exchange.planning import DEFAULT_EGRESS
from riskd.market.records import INTERVAL_MS, MAX_KLINES, SYMBOL_PATTERN, MarketKind


def _symbol_list(symbols: tuple[str, ...]) -> tuple[str, ...]:
    """*symbols* checked against SYMBOL_PATTERN, each once."""
    bad = [s for s in symbols if not SYMBOL_PATTERN.fullmatch(s)]
    if bad:
        raise ValueError(f"not a symbol: {bad[0]!r} (upper-case letters and digits)")
    return tuple(dict.fromkeys(symbols))


class ReaderTiming(StrEnum):
    """When a group's readers read."""

    SLOTS = "slots"
    """Reader k of N reads once in [k·P/N, (k+1)·P/N) of every period P: together they
    refresh the data N times per period, each at one N-th of the rate."""
    INTERVAL = "interval"
    """Each reader reads every ``period_ms`` (with jitter), independently of the others."""


@dataclass(frozen=True, slots=True)
class ReaderSlot:
    """Reader ``index`` (from 0) of the ``readers`` of a group."""

    group: str
    index: int
    readers: int

    @property
    def label(self) -> str:
        """How plans, health and alerts name the reader: ``book-2of4``."""
        return f"{self.group}-{self.index + 1}of{self.readers}"


class ReaderGroupConfig(FrozenModel):
    """N REST readers of one kind of data. Per-symbol kinds (klines) hand the symbols out
    from a shared counter: each read takes the next symbol, so N readers share the list."""

    enabled: bool = True
    readers: int = Field(1, ge=1, le=64)
    timing: ReaderTiming = ReaderTiming.SLOTS
    period_ms: int = Field(1_000, ge=10)
    weight_per_minute: int = Field(gt=0)
    """Each reader's budget on its egress."""
    egress: tuple[str, ...] = (DEFAULT_EGRESS,)
    """Reader k leaves from ``egress[k % len(egress)]`` (see ``JobConfig.egress``)."""

    @field_validator("egress")
    @classmethod
    def _some_egress(cls, egress: tuple[str, ...]) -> tuple[str, ...]:
        if not egress:
            raise ValueError("name at least one egress")
        return egress

    @model_validator(mode="after")
    def _slots_not_empty(self) -> ReaderGroupConfig:
        if self.timing is ReaderTiming.SLOTS and self.period_ms < self.readers:
            raise ValueError(
                f"period_ms ({self.period_ms}) must be at least readers ({self.readers}) "
                "with slots timing, or some readers' slots would be empty"
            )
        return self


class HotSetConfig(FrozenModel):
    """The symbols read faster (seed 003: the symbols that may open a position)."""

    from_positions: bool = True
    """Symbols with a position or an open order on any account."""
    top_by_quote_volume: int = Field(10, ge=0, le=1000)
    symbols: tuple[str, ...] = ()
    """Always hot."""

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, symbols: tuple[str, ...]) -> tuple[str, ...]:
        return _symbol_list(symbols)


class MaxAgeConfig(FrozenModel):
    """How old each kind of data may be before the gateway answers 503 instead."""

    kline_ms: int = Field(10_000, gt=0)
    book_ms: int = Field(5_000, gt=0)
    mark_ms: int = Field(10_000, gt=0)
    ticker_ms: int = Field(60_000, gt=0)

    def of(self, kind: MarketKind) -> int:
        return getattr(self, f"{kind.value}_ms")


def _default_readers() -> dict[str, ReaderGroupConfig]:
    return {
        # One symbol per read (limit 2, or the window now and then: weight 1 below 100).
        "klines": ReaderGroupConfig(
            timing=ReaderTiming.INTERVAL, period_ms=500, weight_per_minute=150
        ),
        # The hot set's klines, read as fast again.
        "hot_klines": ReaderGroupConfig(
            timing=ReaderTiming.INTERVAL, period_ms=250, weight_per_minute=300
        ),
        # Every symbol in one read: bookTicker 5, premiumIndex 10, ticker/24hr 40.
        "book": ReaderGroupConfig(period_ms=1_000, weight_per_minute=330),
        "mark": ReaderGroupConfig(period_ms=3_000, weight_per_minute=220),
        "ticker": ReaderGroupConfig(period_ms=30_000, weight_per_minute=100),
    }


class MarketConfig(FrozenModel):
    """What the MarketFeed carries and how it reads it."""

    enabled: bool = True
    symbols: Literal["all"] | tuple[str, ...] = "all"
    """``"all"``: every TRADING perpetual contract exchangeInfo lists."""
    intervals: tuple[str, ...] = ("1m",)
    kline_window: int = Field(99, ge=2, le=MAX_KLINES)
    """Klines kept per symbol and interval in the cache (and read for calibration)."""
    calibrate_every_ms: int = Field(60_000, gt=0)
    """How often a kline reader reads a symbol's whole window instead of its latest two."""
    egress: str = DEFAULT_EGRESS
    """Where the hub and the WebSocket reader connect from (readers name their own)."""
    websocket: bool = True
    silence_ms: int = Field(3_000, gt=0)
    """A stream connection that pushes nothing this long is reconnected and reported."""
    readers: dict[str, ReaderGroupConfig] = Field(default_factory=_default_readers)
    hot: HotSetConfig = HotSetConfig()
    max_age: MaxAgeConfig = MaxAgeConfig()
    store_klines: bool = True
    """Closed klines go to the ``klines`` table."""

    @field_validator("readers", mode="before")
    @classmethod
    def _readers_over_defaults(cls, readers: Any) -> Any:
        """A reader group's table overrides its defaults key by key; groups not named keep
        theirs. Unknown groups are refused before their tables are checked."""
        if not isinstance(readers, dict):
            return readers
        defaults = _default_readers()
        unknown = sorted(set(readers) - set(defaults), key=str)
        if unknown:
            raise ValueError(
                f"unknown reader group {', '.join(map(str, unknown))} "
                f"(known: {', '.join(defaults)})"
            )
        merged: dict[str, Any] = dict(defaults)
        for name, value in readers.items():
            merged[name] = (
                {**defaults[name].model_dump(), **value} if isinstance(value, dict) else value
            )
        return merged

    @field_validator("symbols", mode="before")
    @classmethod
    def _all_or_list(cls, symbols: Any) -> Any:
        if isinstance(symbols, str) and symbols != "all":
            raise ValueError(f'{symbols!r} is neither "all" nor a list of symbols')
        return symbols

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, symbols: str | tuple[str, ...]) -> str | tuple[str, ...]:
        if isinstance(symbols, str):
            return symbols
        if not symbols:
            raise ValueError('name at least one symbol, or "all"')
        return _symbol_list(symbols)

    @field_validator("intervals")
    @classmethod
    def _intervals(cls, intervals: tuple[str, ...]) -> tuple[str, ...]:
        if not intervals:
            raise ValueError("name at least one interval")
        bad = [i for i in intervals if i not in INTERVAL_MS]
        if bad:
            raise ValueError(f"unknown interval {bad[0]!r} (allowed: {', '.join(INTERVAL_MS)})")
        return tuple(dict.fromkeys(intervals))
