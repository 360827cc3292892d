"""The hot set: the symbols whose klines are read faster (those that may open a position)."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from riskd.market.config import HotSetConfig
from riskd.market.records import Ticker24h


def hot_symbols(
    config: HotSetConfig,
    universe: Collection[str],
    position_symbols: Iterable[str],
    order_symbols: Iterable[str],
    tickers: Iterable[Ticker24h],
) -> tuple[str, ...]:
    """The configured symbols, then (if ``from_positions``) those with a position or an open
    order, then the universe's top ``top_by_quote_volume`` by 24 h quote volume (ties by
    name): each once, in that order, and only symbols of *universe*."""
    by_volume = sorted(
        (ticker for ticker in tickers if ticker.symbol in universe),
        key=lambda ticker: (-ticker.quote_volume, ticker.symbol),
    )
    top = list(dict.fromkeys(ticker.symbol for ticker in by_volume))
    held = [*position_symbols, *order_symbols] if config.from_positions else []
    ranked = [*config.symbols, *held, *top[: config.top_by_quote_volume]]
    return tuple(dict.fromkeys(symbol for symbol in ranked if symbol in universe))
