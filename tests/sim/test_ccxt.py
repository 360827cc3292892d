"""An independent client against the simulator: ccxt's binanceusdm, end to end.

ccxt parses every answer with its own reading of Binance's API, so a shape the simulator got
wrong shows up here as an exception or a wrong value. Every URL ccxt knows is rewritten: the
USDⓈ-M ones to the simulator, all others to a closed local port, so nothing leaves 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import ccxt.async_support as ccxt
import pytest

from riskd.sim import SimServer

SYMBOL = "BTC/USDT:USDT"
NOWHERE = "http://127.0.0.1:9"  # discard port: a call ccxt should not make fails


def _aim(urls: dict, base: str) -> dict:
    """ccxt's API URL table with fapi aimed at *base* and everything else at NOWHERE."""
    aimed = {}
    for name, url in urls.items():
        if isinstance(url, dict):
            aimed[name] = _aim(url, base)
        elif name.startswith("fapi"):
            aimed[name] = base + urlsplit(url).path
        else:
            aimed[name] = NOWHERE
    return aimed


@pytest.fixture
async def exchange(sim: SimServer) -> AsyncIterator[ccxt.binanceusdm]:
    client = ccxt.binanceusdm(
        {
            "apiKey": "sim-key",
            "secret": "sim-secret",
            "enableRateLimit": False,
            "options": {
                "fetchCurrencies": False,
                "fetchMargins": False,
                "adjustForTimeDifference": False,
                "warnOnFetchOpenOrdersWithoutSymbol": False,
            },
        }
    )
    client.urls["api"] = _aim(client.urls["api"], sim.url)
    try:
        yield client
    finally:
        await client.close()


async def test_market_data(exchange, sim, control) -> None:
    markets = await exchange.load_markets()
    btc = markets[SYMBOL]
    assert (btc["id"], btc["linear"], btc["swap"]) == ("BTCUSDT", True, True)
    assert btc["precision"]["price"] == 0.1 and btc["limits"]["cost"]["min"] == 100
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "60500"})
    ticker = await exchange.fetch_ticker(SYMBOL)
    assert ticker["last"] == 60500
    candles = await exchange.fetch_ohlcv(SYMBOL, "1m", limit=3)
    assert len(candles) == 3 and candles[-1][4] == 60500
    book = await exchange.fetch_order_book(SYMBOL, limit=5)
    assert book["bids"][0][0] == pytest.approx(60499.9) and book["asks"][0][0] == 60500.1
    history = await exchange.fetch_funding_rate_history(SYMBOL, limit=3)
    assert [h["fundingRate"] for h in history] == [0.0001] * 3
    assert history[-1]["timestamp"] < sim.exchange.next_funding_ms


async def test_account_and_trading(exchange, sim) -> None:
    await exchange.load_markets()
    balance = await exchange.fetch_balance()
    assert balance["USDT"]["total"] == 100_000
    assert (await exchange.set_leverage(10, SYMBOL))["leverage"] == 10
    assert (await exchange.set_margin_mode("isolated", SYMBOL))["code"] == 200
    assert (await exchange.set_margin_mode("cross", SYMBOL))["code"] == 200

    resting = await exchange.create_order(SYMBOL, "limit", "buy", 0.01, 50_000)
    assert resting["status"] == "open" and resting["price"] == 50_000
    edited = await exchange.edit_order(resting["id"], SYMBOL, "limit", "buy", 0.02, 51_000)
    assert (edited["id"], edited["price"], edited["amount"]) == (resting["id"], 51_000, 0.02)
    open_orders = await exchange.fetch_open_orders(SYMBOL)
    assert [(o["id"], o["price"]) for o in open_orders] == [(resting["id"], 51_000)]
    cancelled = await exchange.cancel_order(resting["id"], SYMBOL)
    assert cancelled["status"] == "canceled"
    assert await exchange.fetch_open_orders(SYMBOL) == []

    bought = await exchange.create_order(SYMBOL, "market", "buy", 0.01)
    assert bought["id"]
    positions = await exchange.fetch_positions([SYMBOL])
    assert [(p["side"], p["contracts"]) for p in positions] == [("long", 0.01)]
    # positionRisk v3 has no leverage field: the 10x shows in the initial margin.
    assert positions[0]["initialMargin"] == pytest.approx(0.01 * 60_000 / 10)
    assert positions[0]["maintenanceMarginPercentage"] == 0.004
    trades = await exchange.fetch_my_trades(SYMBOL)
    assert [(t["order"], t["side"], t["amount"], t["price"]) for t in trades] == [
        (bought["id"], "buy", 0.01, 60000.1)
    ]
    assert trades[0]["fee"]["cost"] == pytest.approx(0.01 * 60000.1 * 0.0005)
