"""Account and position views (v2/v3) follow positions, PnL and margin."""

from __future__ import annotations

from decimal import Decimal


async def _v2_position_risk(client, **params) -> list:
    return await client._request_futures_api("get", "positionRisk", True, version=2, data=params)


async def _v3_account(client) -> dict:
    return await client._request_futures_api("get", "account", True, version=3, data={})


async def test_fresh_account_has_wallet_and_no_positions(sim, client) -> None:
    v2 = await client.futures_account()
    assert v2["totalWalletBalance"] == "100000.00000000"
    assert all(p["positionAmt"] in ("0.000", "0") for p in v2["positions"])
    assert len(v2["positions"]) == len(sim.exchange.market.specs)
    v3 = await _v3_account(client)
    assert v3["positions"] == [] and "feeTier" not in v3
    assert await client.futures_position_information() == []


async def test_unrealized_pnl_and_margin_follow_the_mark(sim, client, control) -> None:
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100")
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "61000"})
    position = (await client.futures_position_information())[0]
    assert Decimal(position["unRealizedProfit"]) == Decimal("0.100") * (61000 - Decimal("60000.1"))
    assert position["notional"] == "6100.00000000"
    assert position["initialMargin"] == "305.00000000"  # 20x
    account = await client.futures_account()
    assert account["totalUnrealizedProfit"] == position["unRealizedProfit"]
    fee = Decimal("0.100") * Decimal("60000.1") * Decimal("0.0005")
    assert Decimal(account["totalWalletBalance"]) == Decimal(100000) - fee.quantize(
        Decimal("0.00000001")
    )


async def test_long_liquidation_price_is_below_entry(sim, client) -> None:
    await client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="10.000"
    )
    position = (await client.futures_position_information())[0]
    liquidation = Decimal(position["liquidationPrice"])
    assert Decimal(0) < liquidation < Decimal(position["entryPrice"])


async def test_v2_position_risk_lists_every_symbol_and_both_sides_in_hedge_mode(
    sim, client
) -> None:
    assert len(await _v2_position_risk(client)) == len(sim.exchange.market.specs)
    await client.futures_change_position_mode(dualSidePosition="true")
    rows = await _v2_position_risk(client, symbol="ETHUSDT")
    assert [r["positionSide"] for r in rows] == ["LONG", "SHORT"]


async def test_position_update_time_is_the_last_change_not_the_snapshot(
    sim, client, control
) -> None:
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    first = (await client.futures_position_information())[0]
    sim.clock.advance(2000)
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "60500"})
    later = (await client.futures_position_information())[0]
    assert later["updateTime"] == first["updateTime"]
    assert later["markPrice"] != first["markPrice"]


async def test_v3_position_risk_includes_flat_symbol_with_open_orders(sim, client) -> None:
    await client.futures_create_order(
        symbol="ETHUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price="2900",
    )
    rows = await client.futures_position_information()
    assert [(r["symbol"], r["positionAmt"]) for r in rows] == [("ETHUSDT", "0.000")]


async def test_open_order_margin_reduces_available_balance(sim, client) -> None:
    before = Decimal((await client.futures_account())["availableBalance"])
    await client.futures_create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="1.000",
        price="59000",
    )
    account = await client.futures_account()
    assert account["totalOpenOrderInitialMargin"] == "2950.00000000"
    assert Decimal(account["availableBalance"]) == before - Decimal("2950")
