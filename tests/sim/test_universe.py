"""``[sim] symbols = N``: the default contracts, then generated ones with valid filters."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from riskd.sim import SimConfig
from riskd.sim.brackets import brackets
from riskd.sim.market import DEFAULT_SYMBOLS, decimals
from riskd.sim.universe import build_universe
from tests.kit.sim import binance_client


def test_the_default_is_binance_four() -> None:
    assert SimConfig().symbols == 4
    assert build_universe(4, 0) == DEFAULT_SYMBOLS
    assert [s.symbol for s in build_universe(2, 0)] == ["BTCUSDT", "ETHUSDT"]


def test_two_hundred_generated_contracts_have_valid_filters() -> None:
    specs = build_universe(200, 7)
    names = [s.symbol for s in specs]
    assert len(set(names)) == 200 and names[4:6] == ["SIM001USDT", "SIM002USDT"]
    for spec in specs:
        price = spec.initial_price
        assert spec.symbol == f"{spec.base_asset}USDT"
        assert price % spec.tick_size == 0 and spec.min_price <= price <= spec.max_price
        spec.check_price(price)  # Binance's own PRICE_FILTER accepts it
        assert decimals(spec.tick_size) <= spec.price_precision
        assert spec.quantity_precision == decimals(spec.step_size)
        assert spec.min_qty == spec.step_size and spec.max_qty % spec.step_size == 0
        # MIN_NOTIONAL is reachable within MARKET_LOT_SIZE.
        needed = -(-spec.min_notional / price // spec.step_size) * spec.step_size
        assert needed <= spec.market_max_qty
        spec.check_quantity(max(needed, spec.min_qty), market=True)
        assert spec.multiplier_down < 1 < spec.multiplier_up
        assert brackets(spec)[0].maint_margin_ratio == spec.maint_margin_rate
    generated = specs[4:]
    assert len({s.tick_size for s in generated}) > 5 and len({s.step_size for s in generated}) > 3
    assert {s.min_notional for s in generated} >= {Decimal(5), Decimal(100)}
    assert (
        min(s.initial_price for s in generated) < 1 < 1000 < max(s.initial_price for s in generated)
    )


def test_generation_is_deterministic_for_the_seed() -> None:
    assert build_universe(50, 3) == build_universe(50, 3)
    assert build_universe(50, 3) != build_universe(50, 4)


@pytest.mark.parametrize("count", [0, -1, 1001])
def test_symbol_count_is_validated(count) -> None:
    with pytest.raises(
        ValidationError, match=f"symbols must be between 1 and 1000 \\(got {count}\\)"
    ):
        SimConfig(symbols=count)


async def test_a_large_universe_is_served(make_sim) -> None:
    sim = await make_sim(symbols=200, exchange={"walk_interval_ms": 1})
    client = binance_client(sim)
    try:
        info = await client.futures_exchange_info()
        tickers = await client.futures_ticker()
        prices = await client.futures_symbol_ticker()
        brackets_all = await client.futures_leverage_bracket()
        generated = next(s for s in info["symbols"] if s["symbol"] == "SIM123USDT")
        filters = {f["filterType"]: f for f in generated["filters"]}
        spec = sim.exchange.market.specs["SIM123USDT"]
        qty = max(
            spec.min_qty,
            -(-spec.min_notional * 2 / spec.initial_price // spec.step_size) * spec.step_size,
        )
        order = await client.futures_create_order(
            symbol="SIM123USDT", side="BUY", type="MARKET", quantity=str(qty)
        )
    finally:
        await client.close_connection()
    assert len(info["symbols"]) == len(tickers) == len(prices) == len(brackets_all) == 200
    assert filters["PRICE_FILTER"]["tickSize"] == f"{spec.tick_size.normalize():f}"
    assert generated["baseAsset"] == "SIM123"
    assert order["status"] == "NEW"
