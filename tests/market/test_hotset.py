from __future__ import annotations

from riskd.market.config import HotSetConfig
from riskd.market.hotset import hot_symbols
from tests.kit.market import ticker

UNIVERSE = frozenset({"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "BNBUSDT"})
TICKERS = [
    ticker("BTCUSDT", "900"),
    ticker("ETHUSDT", "700"),
    ticker("SOLUSDT", "800"),
    ticker("XRPUSDT", "100"),
    ticker("DOGEUSDT", "50"),
    ticker("DELISTEDUSDT", "99999"),  # not carried: never hot
]


def test_configured_then_positions_then_orders_then_top_volume_each_once() -> None:
    config = HotSetConfig(symbols=("DOGEUSDT",), top_by_quote_volume=2)
    hot = hot_symbols(config, UNIVERSE, ["XRPUSDT", "BTCUSDT"], ["BNBUSDT", "XRPUSDT"], TICKERS)
    assert hot == ("DOGEUSDT", "XRPUSDT", "BTCUSDT", "BNBUSDT", "SOLUSDT")


def test_only_symbols_of_the_universe_are_hot() -> None:
    config = HotSetConfig(symbols=("ADAUSDT",), top_by_quote_volume=1)
    hot = hot_symbols(config, UNIVERSE, ["LTCUSDT"], ["TRXUSDT"], TICKERS)
    assert hot == ("BTCUSDT",)  # DELISTEDUSDT's volume does not count


def test_positions_and_orders_count_only_when_configured() -> None:
    config = HotSetConfig(from_positions=False, top_by_quote_volume=1)
    assert hot_symbols(config, UNIVERSE, ["XRPUSDT"], ["ETHUSDT"], TICKERS) == ("BTCUSDT",)


def test_volume_ties_are_broken_by_symbol_name() -> None:
    tickers = [ticker("SOLUSDT", "500"), ticker("ETHUSDT", "500"), ticker("BTCUSDT", "500")]
    config = HotSetConfig(top_by_quote_volume=2)
    assert hot_symbols(config, UNIVERSE, [], [], tickers) == ("BTCUSDT", "ETHUSDT")


def test_no_top_and_no_tickers() -> None:
    assert hot_symbols(HotSetConfig(top_by_quote_volume=0), UNIVERSE, [], [], TICKERS) == ()
    assert hot_symbols(HotSetConfig(), UNIVERSE, ["ETHUSDT"], [], []) == ("ETHUSDT",)
