from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from riskd.market.config import (
    HotSetConfig,
    MarketConfig,
    MaxAgeConfig,
    ReaderGroupConfig,
    ReaderTiming,
)
from riskd.market.records import MarketKind

GROUPS = ("klines", "hot_klines", "book", "mark", "ticker")


def _errors(data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as raised:
        MarketConfig.model_validate(data)
    return [(error["loc"], error["msg"]) for error in raised.value.errors()]


def test_defaults() -> None:
    config = MarketConfig()
    assert (config.enabled, config.symbols, config.intervals) == (True, "all", ("1m",))
    assert (config.kline_window, config.calibrate_every_ms) == (99, 60_000)
    assert (config.websocket, config.silence_ms, config.store_klines) == (True, 3_000, True)
    assert tuple(config.readers) == GROUPS
    assert config.readers["klines"] == ReaderGroupConfig(
        timing=ReaderTiming.INTERVAL, period_ms=500, weight_per_minute=150
    )
    assert config.readers["book"].timing is ReaderTiming.SLOTS
    assert config.readers["book"].egress == ("default",)
    assert config.hot == HotSetConfig(from_positions=True, top_by_quote_volume=10, symbols=())
    assert config.max_age == MaxAgeConfig(
        kline_ms=10_000, book_ms=5_000, mark_ms=10_000, ticker_ms=60_000
    )


def test_a_reader_group_is_overridden_key_by_key() -> None:
    config = MarketConfig.model_validate({"readers": {"book": {"readers": 3, "egress": ["a"]}}})
    defaults = MarketConfig().readers
    assert config.readers["book"] == defaults["book"].model_copy(
        update={"readers": 3, "egress": ("a",)}
    )
    assert {name: config.readers[name] for name in GROUPS if name != "book"} == {
        name: defaults[name] for name in GROUPS if name != "book"
    }


def test_symbols_and_intervals_are_kept_once_in_order() -> None:
    config = MarketConfig.model_validate(
        {"symbols": ["ETHUSDT", "BTCUSDT", "ETHUSDT"], "intervals": ["5m", "1m", "5m"]}
    )
    assert (config.symbols, config.intervals) == (("ETHUSDT", "BTCUSDT"), ("5m", "1m"))
    hot = HotSetConfig.model_validate({"symbols": ["SOLUSDT", "SOLUSDT"]})
    assert hot.symbols == ("SOLUSDT",)


def test_max_age_of_every_kind() -> None:
    ages = MaxAgeConfig(kline_ms=1, book_ms=2, mark_ms=3, ticker_ms=4)
    assert [ages.of(kind) for kind in MarketKind] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        ({"symbols": []}, ("symbols",), 'name at least one symbol, or "all"'),
        ({"symbols": ["btcusdt"]}, ("symbols",), "not a symbol: 'btcusdt'"),
        ({"symbols": "ALL"}, ("symbols",), "'ALL' is neither \"all\" nor a list of symbols"),
        ({"intervals": []}, ("intervals",), "name at least one interval"),
        ({"intervals": ["1M"]}, ("intervals",), "unknown interval '1M'"),
        ({"kline_window": 1}, ("kline_window",), "greater than or equal to 2"),
        ({"kline_window": 1501}, ("kline_window",), "less than or equal to 1500"),
        ({"calibrate_every_ms": 0}, ("calibrate_every_ms",), "greater than 0"),
        ({"silence_ms": -1}, ("silence_ms",), "greater than 0"),
        ({"readers": {"trades": {}}}, ("readers",), "unknown reader group trades (known: klines"),
        ({"readers": {"book": {"readers": 0}}}, ("readers", "book", "readers"), "greater than"),
        ({"readers": {"book": {"readers": 65}}}, ("readers", "book", "readers"), "less than"),
        ({"readers": {"book": {"period_ms": 9}}}, ("readers", "book", "period_ms"), "greater"),
        (
            {"readers": {"book": {"weight_per_minute": 0}}},
            ("readers", "book", "weight_per_minute"),
            "greater than 0",
        ),
        ({"readers": {"book": {"egress": []}}}, ("readers", "book", "egress"), "at least one"),
        ({"readers": {"book": {"timing": "often"}}}, ("readers", "book", "timing"), "'slots'"),
        (
            {"readers": {"book": {"readers": 20, "period_ms": 10}}},
            ("readers", "book"),
            "period_ms (10) must be at least readers (20) with slots timing",
        ),
        ({"readers": {"book": {"speed": 1}}}, ("readers", "book", "speed"), "Extra inputs"),
        ({"hot": {"symbols": ["BTC-USDT"]}}, ("hot", "symbols"), "not a symbol: 'BTC-USDT'"),
        ({"hot": {"top_by_quote_volume": -1}}, ("hot", "top_by_quote_volume"), "greater"),
        ({"max_age": {"book_ms": 0}}, ("max_age", "book_ms"), "greater than 0"),
        ({"max_ages": {}}, ("max_ages",), "Extra inputs are not permitted"),
    ],
)
def test_every_bad_value_names_its_field(data: dict, loc: tuple, message: str) -> None:
    ((error_loc, error_message),) = _errors(data)
    assert error_loc == loc
    assert message in error_message


def test_an_interval_group_may_have_more_readers_than_ms() -> None:
    group = ReaderGroupConfig(readers=20, period_ms=10, timing="interval", weight_per_minute=1)
    assert group.readers == 20


def test_config_objects_are_frozen() -> None:
    config = MarketConfig()
    with pytest.raises(ValidationError, match="frozen"):
        config.kline_window = 5  # type: ignore[misc]
