from __future__ import annotations

import pytest

from riskd.market.records import MarketKind
from riskd.market.streams import (
    StreamRoute,
    connection_urls,
    stream_names,
    ws_base_url,
)


def test_every_kind_goes_to_its_route() -> None:
    names = stream_names(["BTCUSDT", "ETHUSDT"], ["1m", "5m"], set(MarketKind))
    assert names == {
        StreamRoute.MARKET: [
            "btcusdt@kline_1m",
            "btcusdt@kline_5m",
            "btcusdt@markPrice@1s",
            "btcusdt@ticker",
            "ethusdt@kline_1m",
            "ethusdt@kline_5m",
            "ethusdt@markPrice@1s",
            "ethusdt@ticker",
        ],
        StreamRoute.PUBLIC: ["btcusdt@bookTicker", "ethusdt@bookTicker"],
    }


def test_routes_without_streams_are_left_out() -> None:
    assert stream_names(["BTCUSDT"], ["1m"], {MarketKind.BOOK}) == {
        StreamRoute.PUBLIC: ["btcusdt@bookTicker"]
    }
    assert stream_names(["BTCUSDT"], ["1m"], set()) == {}
    assert stream_names([], ["1m"], set(MarketKind)) == {}


def test_connection_url_carries_the_route_and_streams() -> None:
    urls = connection_urls("wss://fstream.binance.com/", StreamRoute.PUBLIC, ["a@x", "b@y"])
    assert urls == ["wss://fstream.binance.com/public/stream?streams=a@x/b@y"]


@pytest.mark.parametrize(
    ("count", "per_connection", "sizes"),
    [
        (450, 200, [200, 200, 50]),
        (400, 200, [200, 200]),
        (3, 1, [1, 1, 1]),
        (1024, 1024, [1024]),
        (0, 200, []),
    ],
)
def test_streams_are_split_so_no_connection_carries_too_many(
    count: int, per_connection: int, sizes: list[int]
) -> None:
    streams = [f"s{index}usdt@ticker" for index in range(count)]
    urls = connection_urls("wss://h", StreamRoute.MARKET, streams, per_connection)
    carried = [url.removeprefix("wss://h/market/stream?streams=").split("/") for url in urls]
    assert [len(chunk) for chunk in carried] == sizes
    assert [stream for chunk in carried for stream in chunk] == streams


@pytest.mark.parametrize("per_connection", [0, 1025])
def test_per_connection_must_be_within_binances_limit(per_connection: int) -> None:
    with pytest.raises(
        ValueError, match=f"per_connection must be in 1..1024, not {per_connection}"
    ):
        connection_urls("wss://h", StreamRoute.MARKET, ["a@ticker"], per_connection)


@pytest.mark.parametrize(
    ("fapi", "ws"),
    [
        ("https://fapi.binance.com", "wss://fstream.binance.com"),
        ("https://fapi.binance.com/", "wss://fstream.binance.com"),
        ("https://testnet.binancefuture.com", "wss://fstream.binancefuture.com"),
        ("http://127.0.0.1:8765", "ws://127.0.0.1:8765"),
        ("https://proxy.example:8443", "wss://proxy.example:8443"),
    ],
)
def test_ws_base_url_of_each_rest_host(fapi: str, ws: str) -> None:
    assert ws_base_url(fapi) == ws


@pytest.mark.parametrize("fapi", ["ftp://host", "fapi.binance.com", "https://", "\x1b[2J"])
def test_ws_base_url_refuses_what_is_not_an_http_url(fapi: str) -> None:
    with pytest.raises(ValueError, match="not an http\\(s\\) URL") as raised:
        ws_base_url(fapi)
    assert "\x1b" not in str(raised.value)
