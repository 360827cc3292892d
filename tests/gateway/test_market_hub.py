"""The gateway's market hub: merging, the answers it renders, streams' mailboxes, stats."""

from __future__ import annotations

import json
from contextlib import aclosing
from decimal import Decimal

from riskd.core.clock import MINUTE_MS
from riskd.gateway.market_hub import (
    MAX_ROBOTS,
    OTHER_ROBOTS,
    Change,
    Channel,
    MarketHub,
    decimal_text,
)
from riskd.market.config import MarketConfig
from tests.kit.market import NOW_MS, book, kline, mark, ticker

CONFIG = MarketConfig(intervals=("1m", "5m"), kline_window=3)


def hub_with(*records: object) -> MarketHub:
    hub = MarketHub(CONFIG)
    hub.set_symbols(["BTCUSDT", "ETHUSDT"])
    hub.publish(records)  # type: ignore[arg-type]
    return hub


def test_publish_counts_the_records_newer_than_what_is_held() -> None:
    hub = hub_with(book(NOW_MS))
    assert hub.publish([book(NOW_MS - 1), book(NOW_MS + 1), mark(NOW_MS)]) == 2
    assert hub.symbols == {"BTCUSDT", "ETHUSDT"}


def test_amounts_are_written_as_binance_writes_them() -> None:
    assert decimal_text(Decimal("0.00000001")) == "0.00000001"
    assert decimal_text(Decimal("0.00010000")) == "0.00010000"
    assert decimal_text(Decimal("-12.5")) == "-12.5"


def test_the_ticker_is_rendered_once_per_change_of_book_or_last_price() -> None:
    hub = hub_with(book(NOW_MS), ticker(update_ms=NOW_MS))
    first = hub.ticker("BTCUSDT")
    assert first is not None
    assert json.loads(first.json(NOW_MS + 7)) == {
        "symbol": "BTCUSDT",
        "age_ms": 7,
        "bid": "70459.4",
        "bid_qty": "1.5",
        "ask": "70459.5",
        "ask_qty": "2",
        "last": "70459.4",
        "time": NOW_MS,
    }
    hub.publish([mark(NOW_MS + 1)])
    assert hub.ticker("BTCUSDT") is first
    hub.publish([book(NOW_MS + 2, bid="70000")])
    second = hub.ticker("BTCUSDT")
    assert second is not first and json.loads(second.json(NOW_MS + 2))["bid"] == "70000"


def test_last_is_the_newest_of_the_24h_ticker_and_the_klines() -> None:
    hub = hub_with(book(NOW_MS), ticker(update_ms=NOW_MS))
    hub.publish([kline(NOW_MS, update_ms=NOW_MS + 5, close="71000.1")])
    assert json.loads(hub.ticker("BTCUSDT").json(NOW_MS))["last"] == "71000.1"
    hub.publish([ticker(update_ms=NOW_MS + 9)])
    assert json.loads(hub.ticker("BTCUSDT").json(NOW_MS))["last"] == "70459.4"


def test_last_is_the_newest_klines_close_not_an_old_one_a_window_read_brought() -> None:
    hub = hub_with(book(NOW_MS), ticker(update_ms=NOW_MS))
    read_at = NOW_MS + 50  # a REST window read: every kline carries the read's time
    window = [
        kline(NOW_MS - 2 * MINUTE_MS, update_ms=read_at, closed=True, close="69000.0"),
        kline(NOW_MS - MINUTE_MS, update_ms=read_at, closed=True, close="69500.0"),
        kline(NOW_MS, update_ms=read_at, close="71000.1"),
    ]
    hub.publish(window[::-1])  # in any order
    assert json.loads(hub.ticker("BTCUSDT").json(NOW_MS))["last"] == "71000.1"
    hub.publish([kline(NOW_MS, update_ms=read_at + 1, interval="5m", close="1.0")])
    assert json.loads(hub.ticker("BTCUSDT").json(NOW_MS))["last"] == "71000.1"  # 1m only


def test_a_ticker_needs_a_book_and_its_last_price_may_be_unknown() -> None:
    hub = hub_with(ticker(update_ms=NOW_MS))
    assert hub.ticker("BTCUSDT") is None
    hub.publish([book(NOW_MS, symbol="ETHUSDT")])
    assert json.loads(hub.ticker("ETHUSDT").json(NOW_MS))["last"] is None


def test_mark_answer() -> None:
    hub = hub_with(mark(NOW_MS))
    assert hub.mark("ETHUSDT") is None
    assert json.loads(hub.mark("BTCUSDT").json(NOW_MS + 3)) == {
        "symbol": "BTCUSDT",
        "age_ms": 3,
        "mark": "70460",
        "index": "70459",
        "funding_rate": "0.0001",
        "next_funding_ms": NOW_MS + 3_600_000,
    }


def test_the_kline_window_follows_what_is_published() -> None:
    opens = [NOW_MS + i * MINUTE_MS for i in range(4)]
    hub = hub_with(*(kline(open_ms, closed=True) for open_ms in opens[:3]))
    window = hub.klines("BTCUSDT", "1m")
    assert window is not None and window.opens == opens[:3]
    assert [json.loads(row) for row in window.rows] == [list(kline(o).row) for o in opens[:3]]
    assert hub.klines("BTCUSDT", "1m") is window
    hub.publish([kline(opens[3], close="1.5")])
    moved = hub.klines("BTCUSDT", "1m")
    assert moved.opens == opens[1:] and json.loads(moved.rows[-1])[4] == "1.5"
    assert moved.rows[0] is window.rows[1]  # rendered once
    assert moved.update_ms == opens[3]
    assert moved.span(opens[2], None) == (1, 3)
    assert moved.span(None, opens[2]) == (0, 2)
    assert moved.span(opens[3] + 1, None) == (3, 3)
    assert hub.klines("BTCUSDT", "5m") is None


async def test_a_subscription_starts_with_the_values_held() -> None:
    hub = hub_with(book(NOW_MS), mark(NOW_MS), kline(NOW_MS), kline(NOW_MS, interval="5m"))
    async with aclosing(hub.subscribe(["BTCUSDT", "ETHUSDT"])) as batches:
        first = await anext(batches)
    messages = [hub.message(change, NOW_MS) for change in first]
    assert [json.loads(m)["type"] for m in messages if m] == ["ticker", "mark", "kline", "kline"]
    assert [c.kline.interval for c in first if c.kline] == ["1m", "5m"]


async def test_a_reader_that_falls_behind_gets_the_newest_value_of_each() -> None:
    hub = hub_with(book(NOW_MS))
    async with aclosing(hub.subscribe(["BTCUSDT"])) as batches:
        await anext(batches)
        for step in range(1, 1_001):
            hub.publish([book(NOW_MS + step, bid=str(70_000 + step)), mark(NOW_MS + step)])
            hub.publish([kline(NOW_MS + (step // 100) * MINUTE_MS, update_ms=NOW_MS + step)])
        hub.publish([kline(NOW_MS, update_ms=NOW_MS + 5_000, closed=True)])  # late, older
        changes = await anext(batches)
    assert [change.key for change in changes] == [
        (Channel.TICKER, "BTCUSDT", ""),
        (Channel.MARK, "BTCUSDT", ""),
        (Channel.KLINE, "BTCUSDT", "1m"),
    ]
    assert json.loads(hub.message(changes[0], NOW_MS + 1_000))["bid"] == "71000"
    assert changes[2].kline == kline(NOW_MS + 10 * MINUTE_MS, update_ms=NOW_MS + 1_000)


async def test_a_subscription_gets_only_its_symbols_and_is_released_when_closed() -> None:
    hub = hub_with(book(NOW_MS, symbol="ETHUSDT"))
    async with aclosing(hub.subscribe(["ETHUSDT"])) as batches:
        assert await anext(batches) == [Change(Channel.TICKER, "ETHUSDT")]
        hub.publish([book(NOW_MS), mark(NOW_MS, symbol="ETHUSDT")])
        assert await anext(batches) == [Change(Channel.MARK, "ETHUSDT")]
    assert hub._subscribers == {}


async def test_a_24h_ticker_older_than_the_newest_kline_changes_nothing_shown() -> None:
    hub = hub_with(book(NOW_MS), kline(NOW_MS, update_ms=NOW_MS + 10))
    async with aclosing(hub.subscribe(["BTCUSDT"])) as batches:
        await anext(batches)
        hub.publish([ticker(update_ms=NOW_MS + 5), mark(NOW_MS)])
        assert await anext(batches) == [Change(Channel.MARK, "BTCUSDT")]


def test_stream_messages_carry_the_fields_of_the_answers() -> None:
    closed = kline(NOW_MS, closed=True, update_ms=NOW_MS + MINUTE_MS)
    hub = hub_with(book(NOW_MS), closed)
    ticker_message = json.loads(hub.message(Change(Channel.TICKER, "BTCUSDT"), NOW_MS + 4))
    assert ticker_message == {"type": "ticker"} | json.loads(hub.ticker("BTCUSDT").json(NOW_MS + 4))
    kline_message = json.loads(hub.message(Change(Channel.KLINE, "BTCUSDT", closed), NOW_MS))
    assert kline_message == {
        "type": "kline",
        "symbol": "BTCUSDT",
        "interval": "1m",
        "kline": list(closed.row),
        "closed": True,
    }
    assert hub.message(Change(Channel.MARK, "BTCUSDT"), NOW_MS) is None


def test_stats_give_each_kind_s_age_and_the_oldest() -> None:
    hub = hub_with(book(NOW_MS - 100), mark(NOW_MS - 2_000), kline(NOW_MS, update_ms=NOW_MS - 50))
    hub.count("anonymous")
    hub.count("r1")
    hub.count("r1")
    assert hub.stats(NOW_MS) == {
        "robots": {"anonymous": 1, "r1": 2},
        "symbols": {
            "BTCUSDT": {"age_ms": 2_000, "kinds": {"book": 100, "mark": 2_000, "kline": 50}},
            "ETHUSDT": {"age_ms": None, "kinds": {}},
        },
    }


def test_robots_beyond_the_most_counted_by_name_count_together() -> None:
    hub = hub_with()
    for robot in range(MAX_ROBOTS + 2):
        hub.count(f"r{robot}")
    hub.count("r0")
    robots = hub.stats(NOW_MS)["robots"]
    assert len(robots) == MAX_ROBOTS + 1
    assert (robots["r0"], robots[OTHER_ROBOTS]) == (2, 2)
