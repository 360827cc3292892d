"""Binance's market-data WebSocket routes, stream names and connection URLs.

Since 2026-04-23 USDⓈ-M streams are split by path: ``/public`` carries bookTicker and depth,
``/market`` klines, mark prices, tickers and aggTrades, ``/private`` user data. A stream sent to
the wrong route, or to a legacy URL, is accepted and never pushes anything.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

from riskd.core.display import safe_text
from riskd.market.records import MarketKind

WS_HOSTS: Final[dict[str, str]] = {
    "https://fapi.binance.com": "wss://fstream.binance.com",
    "https://testnet.binancefuture.com": "wss://fstream.binancefuture.com",
}
"""Binance's stream host for each of its REST hosts."""

MAX_STREAMS_PER_CONNECTION: Final = 1024
"""Binance's limit on the streams of one connection."""

_WS_SCHEMES: Final = {"http": "ws", "https": "wss"}


class StreamRoute(StrEnum):
    """The path that carries a stream."""

    PUBLIC = "public"
    MARKET = "market"


ROUTES: Final[dict[MarketKind, StreamRoute]] = {
    MarketKind.KLINE: StreamRoute.MARKET,
    MarketKind.BOOK: StreamRoute.PUBLIC,
    MarketKind.MARK: StreamRoute.MARKET,
    MarketKind.TICKER: StreamRoute.MARKET,
}


def stream_names(
    symbols: Iterable[str], intervals: Sequence[str], kinds: Collection[MarketKind]
) -> dict[StreamRoute, list[str]]:
    """The streams carrying *kinds* of *symbols*, by route (routes without any left out):
    ``btcusdt@kline_1m``, ``btcusdt@bookTicker``, ``btcusdt@markPrice@1s``,
    ``btcusdt@ticker``."""
    names: dict[StreamRoute, list[str]] = {}
    for symbol in symbols:
        for kind in MarketKind:
            if kind in kinds:
                names.setdefault(ROUTES[kind], []).extend(_names(symbol.lower(), kind, intervals))
    return names


def _names(symbol: str, kind: MarketKind, intervals: Sequence[str]) -> list[str]:
    match kind:
        case MarketKind.KLINE:
            return [f"{symbol}@kline_{interval}" for interval in intervals]
        case MarketKind.BOOK:
            return [f"{symbol}@bookTicker"]
        case MarketKind.MARK:
            return [f"{symbol}@markPrice@1s"]
        case MarketKind.TICKER:
            return [f"{symbol}@ticker"]


def connection_urls(
    ws_base: str, route: StreamRoute, streams: Sequence[str], per_connection: int = 200
) -> list[str]:
    """Combined-stream URLs (``{ws_base}/{route}/stream?streams=a/b``) carrying *streams*,
    at most *per_connection* each."""
    if not 1 <= per_connection <= MAX_STREAMS_PER_CONNECTION:
        raise ValueError(
            f"per_connection must be in 1..{MAX_STREAMS_PER_CONNECTION}, not {per_connection}"
        )
    base = f"{ws_base.rstrip('/')}/{route}/stream?streams="
    return [
        base + "/".join(streams[start : start + per_connection])
        for start in range(0, len(streams), per_connection)
    ]


def ws_base_url(fapi_base_url: str) -> str:
    """The stream host serving a REST host: Binance's own for mainnet and testnet, else the
    same host with the ws/wss scheme (the simulator)."""
    base = fapi_base_url.rstrip("/")
    if base in WS_HOSTS:
        return WS_HOSTS[base]
    parts = urlsplit(base)
    if parts.scheme not in _WS_SCHEMES or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {safe_text(fapi_base_url, 80)!r}")
    return parts._replace(scheme=_WS_SCHEMES[parts.scheme]).geturl()
