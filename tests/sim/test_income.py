"""Income history: booking per fill and funding, int64 tranIds, time-window paging."""

from __future__ import annotations

import pytest
from binance.exceptions import BinanceAPIException

HOUR_MS = 3_600_000


async def _round_trip(client, control, exit_price: str) -> None:
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": exit_price})
    await client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010"
    )


async def test_losing_round_trip_books_pnl_and_commissions(sim, client, control) -> None:
    await _round_trip(client, control, "59000")
    rows = await client.futures_income_history()
    assert [r["incomeType"] for r in rows] == ["COMMISSION", "REALIZED_PNL", "COMMISSION"]
    assert rows[1]["income"] == "-10.00200000"
    assert rows[1]["tranId"] == rows[2]["tranId"]  # one trade: unique per (tranId, type)
    assert rows[1]["tradeId"] == rows[2]["tradeId"] != ""


async def test_tran_ids_are_int64_json_numbers_beyond_double_precision(
    sim, client, control
) -> None:
    await _round_trip(client, control, "61000")
    body = await client.futures_income_history()
    raw = client.response  # last response: parse its text ourselves
    text = await raw.text()
    tran_id = body[0]["tranId"]
    assert isinstance(tran_id, int) and tran_id > 2**53
    assert f'"tranId":{tran_id}' in text


async def test_filters_by_type_and_symbol(sim, client, control) -> None:
    await _round_trip(client, control, "61000")
    assert len(await client.futures_income_history(incomeType="COMMISSION")) == 2
    assert await client.futures_income_history(symbol="ETHUSDT") == []


async def test_time_window_is_inclusive_and_limit_pages(sim, client, control) -> None:
    await _round_trip(client, control, "61000")
    rows = await client.futures_income_history()
    first, last = rows[0]["time"], rows[-1]["time"]
    page = await client.futures_income_history(startTime=first, endTime=last, limit=1)
    assert page == rows[:1]
    after = await client.futures_income_history(startTime=last, endTime=last)
    assert after == [r for r in rows if r["time"] == last]


async def test_default_window_is_the_last_seven_days(sim, client, control) -> None:
    await _round_trip(client, control, "61000")
    sim.clock.advance(8 * 24 * HOUR_MS)
    client.timestamp_offset = 8 * 24 * HOUR_MS
    assert await client.futures_income_history() == []
    assert len(await client.futures_income_history(startTime=0)) == 3


async def test_limit_over_1000_is_rejected(sim, client) -> None:
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_income_history(limit=1001)
    assert info.value.code == -1130


async def test_funding_fee_is_booked_at_each_funding_time(sim, client, control) -> None:
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100")
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "60000"})
    until_funding = sim.exchange.next_funding_ms - sim.clock.now_ms()
    await control("POST", "/_sim/clock", {"advance_ms": until_funding})
    client.timestamp_offset = until_funding
    funding = await client.futures_income_history(incomeType="FUNDING_FEE")
    assert [(r["symbol"], r["income"], r["tradeId"]) for r in funding] == [
        ("BTCUSDT", "-0.60000000", "")
    ]  # long pays 0.1 * 60000 * 0.0001
