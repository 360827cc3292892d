from __future__ import annotations

import pytest

from riskd.market.cache import MarketCache, newer
from riskd.market.records import MarketKind
from tests.kit.market import NOW_MS, book, kline, mark, ticker

MINUTE = 60_000


def test_newer_by_update_time_only() -> None:
    assert newer(book(NOW_MS), None)
    assert newer(book(NOW_MS + 1), book(NOW_MS))
    assert not newer(book(NOW_MS), book(NOW_MS))
    assert not newer(book(NOW_MS - 1), book(NOW_MS))


def test_a_closed_kline_is_final() -> None:
    closed = kline(update_ms=NOW_MS + MINUTE, closed=True)
    assert not newer(kline(update_ms=NOW_MS + 2 * MINUTE), closed)
    assert newer(closed, kline(update_ms=NOW_MS + 2 * MINUTE))
    assert newer(kline(update_ms=NOW_MS + 2 * MINUTE, closed=True), closed)
    assert not newer(kline(update_ms=NOW_MS, closed=True), closed)


def test_apply_keeps_the_newest_of_each_kind_per_symbol_and_returns_what_changed() -> None:
    cache = MarketCache(kline_window=3)
    first = [book(NOW_MS), mark(NOW_MS), ticker(update_ms=NOW_MS), book(NOW_MS, symbol="ETHUSDT")]
    assert cache.apply(first) == first
    stale, fresh = book(NOW_MS - 5, bid="1"), mark(NOW_MS + 5, price="2")
    assert cache.apply([stale, fresh, book(NOW_MS, bid="3")]) == [fresh]
    assert cache.book("BTCUSDT") == book(NOW_MS)
    assert cache.mark("BTCUSDT") == fresh
    assert cache.ticker("BTCUSDT") == ticker(update_ms=NOW_MS)
    assert cache.book("ETHUSDT") == book(NOW_MS, symbol="ETHUSDT")
    assert (cache.book("SOLUSDT"), cache.mark("SOLUSDT"), cache.ticker("SOLUSDT")) == (None,) * 3


def test_a_slow_source_never_takes_a_value_back() -> None:
    cache = MarketCache(kline_window=3)
    rest, stream = book(NOW_MS + 100, bid="5"), book(NOW_MS + 300, bid="6")
    cache.apply([stream])
    assert cache.apply([rest]) == []  # the REST answer was read before the stream's event
    assert cache.book("BTCUSDT") == stream


def test_klines_merge_by_open_time_and_update() -> None:
    cache = MarketCache(kline_window=3)
    early = kline(NOW_MS, update_ms=NOW_MS + 10, close="1")
    late = kline(NOW_MS, update_ms=NOW_MS + 20, close="2")
    assert cache.apply([late, early]) == [late]
    assert cache.klines("BTCUSDT", "1m") == [late]
    closed = kline(NOW_MS, update_ms=NOW_MS + 15, closed=True, close="3")
    assert cache.apply([closed]) == [closed]  # final, though its update is older
    assert cache.apply([kline(NOW_MS, update_ms=NOW_MS + MINUTE, close="4")]) == []
    assert cache.klines("BTCUSDT", "1m") == [closed]


def test_the_window_keeps_the_latest_klines_in_order() -> None:
    cache = MarketCache(kline_window=3)
    opens = [NOW_MS + k * MINUTE for k in (2, 0, 4, 1, 3)]
    cache.apply([kline(open_ms) for open_ms in opens])
    assert [k.open_ms for k in cache.klines("BTCUSDT", "1m")] == [
        NOW_MS + 2 * MINUTE,
        NOW_MS + 3 * MINUTE,
        NOW_MS + 4 * MINUTE,
    ]


def test_a_kline_older_than_a_full_window_is_ignored() -> None:
    cache = MarketCache(kline_window=2)
    cache.apply([kline(NOW_MS + MINUTE), kline(NOW_MS + 2 * MINUTE)])
    assert cache.apply([kline(NOW_MS, update_ms=NOW_MS + 10 * MINUTE, closed=True)]) == []
    assert [k.open_ms for k in cache.klines("BTCUSDT", "1m")] == [
        NOW_MS + MINUTE,
        NOW_MS + 2 * MINUTE,
    ]


def test_windows_are_per_symbol_and_interval() -> None:
    cache = MarketCache(kline_window=2)
    one, five = kline(NOW_MS), kline(NOW_MS, interval="5m")
    eth = kline(NOW_MS, symbol="ETHUSDT")
    cache.apply([one, five, eth])
    assert cache.klines("BTCUSDT", "1m") == [one]
    assert cache.klines("BTCUSDT", "5m") == [five]
    assert cache.klines("ETHUSDT", "1m") == [eth]
    assert cache.klines("ETHUSDT", "5m") == []


def test_updated_ms_per_symbol_and_kind() -> None:
    cache = MarketCache(kline_window=3)
    assert cache.updated_ms("BTCUSDT") == {}
    cache.apply(
        [
            book(NOW_MS + 1),
            mark(NOW_MS + 2),
            kline(NOW_MS, update_ms=NOW_MS + 30),
            kline(NOW_MS, interval="5m", update_ms=NOW_MS + 40),
            ticker(update_ms=NOW_MS + 3, symbol="ETHUSDT"),
        ]
    )
    assert cache.updated_ms("BTCUSDT") == {
        MarketKind.BOOK: NOW_MS + 1,
        MarketKind.MARK: NOW_MS + 2,
        MarketKind.KLINE: NOW_MS + 40,
    }
    assert cache.updated_ms("ETHUSDT") == {MarketKind.TICKER: NOW_MS + 3}


def test_the_symbol_list_is_replaced() -> None:
    cache = MarketCache(kline_window=3)
    cache.set_symbols(["BTCUSDT", "ETHUSDT", "BTCUSDT"])
    assert cache.symbols == {"BTCUSDT", "ETHUSDT"}
    cache.set_symbols([])
    assert cache.symbols == frozenset()


def test_the_window_must_hold_a_kline() -> None:
    with pytest.raises(ValueError, match="kline_window must be at least 1, not 0"):
        MarketCache(kline_window=0)
