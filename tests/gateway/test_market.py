"""GET /v1/market/klines, ticker, mark and stats on the gateway as it serves, on a fake riskd."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from riskd.core.clock import MINUTE_MS
from riskd.gateway.ports import BackendUnavailable
from riskd.market.config import MarketConfig
from riskd.market.records import Record
from tests.kit.clock import FrozenClock
from tests.kit.gateway import (
    OPERATOR_TOKEN,
    READ_TOKEN,
    READER,
    FakeBackend,
    Served,
    gateway_config,
    serving,
)
from tests.kit.market import NOW_MS, book, kline, kline_row, mark, ticker

CONFIG = MarketConfig(intervals=("1m", "5m"), kline_window=5)
SYMBOLS = ("BTCUSDT", "ETHUSDT")
OPENS = [NOW_MS + (i - 4) * MINUTE_MS for i in range(5)]  # the cached window, the last open
STORED = [NOW_MS + (i - 14) * MINUTE_MS for i in range(10)]  # the ten klines before it
CLOCK_MS = NOW_MS + 1_000
RECORDS: list[Record] = [
    book(NOW_MS + 900),
    mark(NOW_MS + 800),
    ticker(update_ms=NOW_MS + 700),
    *(kline(open_ms, closed=True, update_ms=open_ms + MINUTE_MS) for open_ms in OPENS[:-1]),
    kline(OPENS[-1], update_ms=NOW_MS + 500, close="70500.1"),
]


def rows(opens: list[int], close: str = "70459.40") -> list[list]:
    """The 1m rows opened at *opens*, as JSON shows them."""
    return [list(kline_row(open_ms, close=close)) for open_ms in opens]


CACHED = [*rows(OPENS[:-1]), list(kline_row(OPENS[-1], close="70500.1"))]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(CLOCK_MS)


@pytest.fixture
async def gateway(clock: FrozenClock) -> AsyncIterator[Served]:
    backend = FakeBackend()
    backend.stored_klines[("BTCUSDT", "1m")] = [
        *(kline_row(open_ms) for open_ms in STORED),
        *(kline_row(open_ms, close="1") for open_ms in OPENS[:-1]),  # the cache's own
    ]
    async with serving(backend, market=CONFIG, clock=clock) as served:
        served.server.set_market_symbols(SYMBOLS)
        assert served.server.publish_market(RECORDS) == len(RECORDS)
        yield served


async def test_ticker_answers_the_book_and_the_newest_last_price(gateway: Served) -> None:
    status, headers, body = await gateway.call("GET", "/v1/market/ticker?symbol=BTCUSDT")
    assert (status, headers["Content-Type"]) == (200, "application/json; charset=utf-8")
    assert body == {
        "symbol": "BTCUSDT",
        "age_ms": 100,
        "bid": "70459.4",
        "bid_qty": "1.5",
        "ask": "70459.5",
        "ask_qty": "2",
        "last": "70459.4",  # the 24 h ticker's (NOW+700) is newer than the klines' (NOW+500)
        "time": NOW_MS + 900,
    }
    gateway.server.publish_market([kline(OPENS[-1], update_ms=NOW_MS + 950, close="70600")])
    gateway.server.publish_market([book(NOW_MS + 990, bid="0.00000100")])
    _status, _headers, body = await gateway.call("GET", "/v1/market/ticker?symbol=BTCUSDT")
    assert (body["last"], body["bid"], body["age_ms"]) == ("70600", "0.00000100", 10)


async def test_mark_answers_mark_index_and_funding(gateway: Served) -> None:
    status, _headers, body = await gateway.call("GET", "/v1/market/mark?symbol=BTCUSDT")
    assert (status, body) == (
        200,
        {
            "symbol": "BTCUSDT",
            "age_ms": 200,
            "mark": "70460",
            "index": "70459",
            "funding_rate": "0.0001",
            "next_funding_ms": NOW_MS + 3_600_000,
        },
    )


@pytest.mark.parametrize(
    ("query", "klines"),
    [
        ("&limit=5", CACHED),
        ("&limit=3", CACHED[2:]),
        (f"&limit=2&startTime={OPENS[1]}", CACHED[1:3]),
        (f"&limit=2&startTime={OPENS[1] - 1}", CACHED[1:3]),
        (f"&limit=2&startTime={OPENS[0] - MINUTE_MS + 1}", CACHED[:2]),
        (f"&limit=2&endTime={OPENS[2]}", CACHED[1:3]),
        (f"&limit=2&endTime={OPENS[2] + 1}", CACHED[1:3]),
        (f"&startTime={OPENS[1]}&endTime={OPENS[3]}", CACHED[1:4]),
        (f"&startTime={OPENS[-1] + 1}", []),
    ],
)
async def test_klines_in_the_cache_s_window_never_touch_the_backend(
    gateway: Served, query: str, klines: list[list]
) -> None:
    path = f"/v1/market/klines?symbol=BTCUSDT&interval=1m{query}"
    status, _headers, body = await gateway.call("GET", path)
    assert (status, body) == (
        200,
        {"symbol": "BTCUSDT", "interval": "1m", "age_ms": 500, "klines": klines},
    )
    assert gateway.backend.calls == []


@pytest.mark.parametrize(
    ("query", "klines", "asked"),
    [
        # Binance's default limit, 500: all the store has before the window, then the window.
        ("", [*rows(STORED), *CACHED], (None, OPENS[0] - 1, 495)),
        ("&limit=7", [*rows(STORED[-2:]), *CACHED], (None, OPENS[0] - 1, 2)),
        (
            f"&limit=4&startTime={STORED[-2]}",
            [*rows(STORED[-2:]), *CACHED[:2]],
            (STORED[-2], OPENS[0] - 1, 4),
        ),
        (
            f"&limit=2&startTime={OPENS[0] - MINUTE_MS}",
            [*rows(STORED[-1:]), *CACHED[:1]],
            (OPENS[0] - MINUTE_MS, OPENS[0] - 1, 2),
        ),
        (
            f"&limit=3&startTime={STORED[0]}",
            rows(STORED[:3]),
            (STORED[0], OPENS[0] - 1, 3),
        ),
        (
            f"&startTime={STORED[-1]}&endTime={OPENS[1]}",
            [*rows(STORED[-1:]), *CACHED[:2]],  # the cache's, not the store's, of its opens
            (STORED[-1], OPENS[0] - 1, 500),
        ),
        (f"&limit=2&endTime={STORED[4]}", rows(STORED[3:5]), (None, STORED[4], 2)),
    ],
)
async def test_klines_before_the_window_come_from_the_store(
    gateway: Served, query: str, klines: list[list], asked: tuple
) -> None:
    path = f"/v1/market/klines?symbol=BTCUSDT&interval=1m{query}"
    status, _headers, body = await gateway.call("GET", path)
    assert (status, body["klines"]) == (200, klines)
    assert gateway.backend.calls == [("kline_history", ("BTCUSDT", "1m", *asked))]


async def test_klines_from_a_store_that_is_down_are_503(gateway: Served) -> None:
    gateway.backend.fail["kline_history"] = BackendUnavailable("the kline store is not running")
    status, _headers, body = await gateway.call(
        "GET", "/v1/market/klines?symbol=BTCUSDT&interval=1m&limit=6"
    )
    assert (status, body) == (503, {"error": "the kline store is not running"})


@pytest.mark.parametrize(
    ("path", "kind", "age_ms", "max_age_ms"),
    [
        ("/v1/market/ticker?symbol=BTCUSDT", "book", 5_001, 5_000),
        ("/v1/market/mark?symbol=BTCUSDT", "mark", 10_001, 10_000),
        ("/v1/market/klines?symbol=BTCUSDT&interval=1m&limit=1", "kline", 10_001, 10_000),
    ],
)
async def test_data_older_than_its_maximum_age_is_503_with_its_age(
    gateway: Served, clock: FrozenClock, path: str, kind: str, age_ms: int, max_age_ms: int
) -> None:
    updated_ms = CLOCK_MS - (await gateway.call("GET", path))[2]["age_ms"]
    clock.now_ms = updated_ms + max_age_ms
    assert (await gateway.call("GET", path))[0] == 200
    clock.now_ms += 1
    status, _headers, body = await gateway.call("GET", path)
    assert (status, body) == (
        503,
        {
            "error": f"BTCUSDT's {kind} data is {age_ms} ms old (served up to {max_age_ms} ms)",
            "age_ms": age_ms,
        },
    )


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/v1/market/ticker?symbol=ETHUSDT", "no data yet for ETHUSDT"),
        ("/v1/market/mark?symbol=ETHUSDT", "no data yet for ETHUSDT"),
        ("/v1/market/klines?symbol=ETHUSDT&interval=1m", "no data yet for ETHUSDT 1m"),
        ("/v1/market/klines?symbol=BTCUSDT&interval=5m", "no data yet for BTCUSDT 5m"),
    ],
)
async def test_a_known_symbol_without_data_yet_is_503(
    gateway: Served, path: str, error: str
) -> None:
    assert (await gateway.call("GET", path))[::2] == (503, {"error": error})


async def test_before_the_feed_names_its_symbols_every_symbol_is_503() -> None:
    async with serving(market=CONFIG) as gateway:
        status, _headers, body = await gateway.call("GET", "/v1/market/ticker?symbol=BTCUSDT")
    assert (status, body) == (503, {"error": "the feed has not named its symbols yet; try again"})


K = "/v1/market/klines?symbol=BTCUSDT&interval=1m"
T = "/v1/market/ticker?symbol=BTCUSDT"
BAD = [
    ("/v1/market/ticker", 400, "symbol: required"),
    ("/v1/market/mark?symbol=", 400, "symbol: required"),
    ("/v1/market/ticker?symbol=btcusdt", 400, "symbol: must be 1 to 20 upper-case letters or"),
    ("/v1/market/mark?symbol=BTC-USDT", 400, "symbol: must be 1 to 20 upper-case letters or "),
    ("/v1/market/ticker?symbol=" + "A" * 21, 400, "symbol: must be 1 to 20 upper-case letter"),
    ("/v1/market/ticker?symbol=%1B%5B2J", 400, "symbol: must be 1 to 20 upper-case letters or"),
    ("/v1/market/ticker?symbol=DOGEUSDT", 404, "symbol: unknown symbol 'DOGEUSDT'"),
    ("/v1/market/mark?symbol=DOGEUSDT", 404, "symbol: unknown symbol 'DOGEUSDT'"),
    ("/v1/market/klines?symbol=DOGEUSDT&interval=1m", 404, "symbol: unknown symbol 'DOGEUS"),
    (f"{T}&symbol=ETHUSDT", 400, "symbol: given more than once"),
    (f"{T}&Symbol=ETHUSDT", 400, "unknown parameters 'Symbol' (known: robot, symbol)"),
    (f"{T}&a=1&%0A=2", 400, "unknown parameters '\\n', 'a' (known: robot, symbol)"),
    (f"{T}&robot=", 400, "robot: must be 1 to 64 letters, digits or '_.:-', not ''"),
    (f"{T}&robot=a%20b", 400, "robot: must be 1 to 64 letters, digits or '_.:-', not 'a b'"),
    (f"{T}&robot={'r' * 65}", 400, "robot: must be 1 to 64 letters, digits or '_.:-', not 'r"),
    (f"{T}&robot=%E2%80%AE", 400, "robot: must be 1 to 64 letters, digits or '_.:-', not '\\u"),
    ("/v1/market/klines?symbol=BTCUSDT", 400, "interval: must be one of 1m, 5m; required"),
    (f"{K[:-3]}=1h", 400, "interval: must be one of 1m, 5m; not '1h'"),
    (f"{K[:-3]}=1M", 400, "interval: must be one of 1m, 5m; not '1M'"),
    (f"{K}&limit=0", 400, "limit: must be a number from 1 to 1500, not '0'"),
    (f"{K}&limit=1501", 400, "limit: must be a number from 1 to 1500, not '1501'"),
    (f"{K}&limit=-1", 400, "limit: must be a number from 1 to 1500, not '-1'"),
    (f"{K}&limit=%EF%BC%95", 400, "limit: must be a number from 1 to 1500, not '５'"),
    (f"{K}&limit=", 400, "limit: must be a number from 1 to 1500, not ''"),
    (f"{K}&startTime=soon", 400, "startTime: must be a number from 0 to 9223372036854775807"),
    (f"{K}&endTime=1e12", 400, "endTime: must be a number from 0 to 9223372036854775807, not"),
    (f"{K}&endTime={2**63}", 400, "endTime: must be a number from 0 to 9223372036854775807, n"),
    (f"{K}&startTime=2&endTime=1", 400, "startTime: must not be after endTime, not 2 > 1"),
    (f"{K}&limit=5&limit=6", 400, "limit: given more than once"),
    (f"{K}&symbols=BTCUSDT", 400, "unknown parameters 'symbols' (known: endTime, interval, lim"),
    ("/v1/market/stats?symbol=BTCUSDT", 400, "unknown parameters 'symbol' (known: robot)"),
    ("/v1/market/stream", 400, "symbols: required, as symbols=BTCUSDT,ETHUSDT"),
    ("/v1/market/stream?symbols=BTCUSDT,", 400, "symbols: required"),
    ("/v1/market/stream?symbols=BTCUSDT,eth", 400, "symbols: must be 1 to 20 upper-case letter"),
    ("/v1/market/stream?symbols=BTCUSDT,XUSDT", 404, "symbols: unknown symbol 'XUSDT'"),
    ("/v1/market/stream?symbols=BTCUSDT", 426, "this route is a WebSocket: send 'Upgrade"),
    (
        "/v1/market/stream?symbols=" + ",".join(f"S{n}" for n in range(201)),
        400,
        "symbols: at most 200 per connection, not 201",
    ),
]


@pytest.mark.parametrize(("path", "status", "error"), BAD, ids=[row[2] for row in BAD])
async def test_a_bad_request_is_refused_naming_what_is_wrong(
    gateway: Served, path: str, status: int, error: str
) -> None:
    answer_status, _headers, body = await gateway.call("GET", path)
    assert (answer_status, body["error"][: len(error)]) == (status, error)
    assert gateway.backend.calls == []


async def test_untrusted_text_is_escaped_in_errors(gateway: Served) -> None:
    _status, _headers, body = await gateway.call("GET", f"{T}&robot=%1B%5B2J%E2%80%AE")
    assert body["error"].endswith("not '\\x1b[2J\\u202e'")


async def test_robots_answered_requests_and_data_ages_are_in_the_stats(gateway: Served) -> None:
    for path in (f"{T}&robot=r1", f"{K}&limit=1&robot=r1", "/v1/market/mark?symbol=BTCUSDT"):
        assert (await gateway.call("GET", path))[0] == 200
    assert (await gateway.call("GET", "/v1/market/ticker?symbol=XUSDT&robot=r1"))[0] == 404
    assert (await gateway.call("GET", "/v1/market/ticker?symbol=ETHUSDT&robot=r2"))[0] == 503
    status, _headers, stats = await gateway.call("GET", "/v1/market/stats?robot=ops")
    assert (status, stats) == (
        200,
        {
            "robots": {"r1": 2, "anonymous": 1, "ops": 1},
            "symbols": {
                "BTCUSDT": {
                    "age_ms": 500,
                    "kinds": {"book": 100, "mark": 200, "ticker": 300, "kline": 500},
                },
                "ETHUSDT": {"age_ms": None, "kinds": {}},
            },
        },
    )


async def test_reads_need_the_read_token_when_tokens_are_configured() -> None:
    tokens = gateway_config(READ_TOKEN, OPERATOR_TOKEN)
    async with serving(config=tokens, market=CONFIG, clock=FrozenClock(CLOCK_MS)) as gateway:
        gateway.server.set_market_symbols(SYMBOLS)
        gateway.server.publish_market(RECORDS)
        for path in (T, f"{K}&limit=1", "/v1/market/mark?symbol=BTCUSDT", "/v1/market/stats"):
            status, headers, body = await gateway.call("GET", path)
            assert (status, headers["WWW-Authenticate"]) == (401, "Bearer"), path
            assert body == {"error": "Authorization: send 'Bearer <token>'"}
            assert (await gateway.call("GET", path, headers=READER))[0] == 200, path


async def test_market_routes_exist_only_with_a_market_config() -> None:
    async with serving() as gateway:
        assert not [route for route in await gateway.server.routes() if "market" in route]
        assert (await gateway.call("GET", T))[0] == 404
        with pytest.raises(RuntimeError, match="serves no market data"):
            gateway.server.publish_market(RECORDS)
    async with serving(market=CONFIG) as gateway:
        assert [route for route in await gateway.server.routes() if "market" in route] == [
            f"GET /v1/market/{name}" for name in ("klines", "mark", "stats", "stream", "ticker")
        ]


async def test_publishing_counts_only_what_is_newer(gateway: Served) -> None:
    assert gateway.server.publish_market([book(NOW_MS), mark(NOW_MS + 801)]) == 1
