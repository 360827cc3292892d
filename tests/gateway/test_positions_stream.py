"""WS /v1/positions/stream: the book with each position's ladder rungs and distance to
liquidation, sent at once and then only when it changes."""

from __future__ import annotations

import asyncio

from riskd.gateway import positions_stream
from riskd.gateway.ports import BackendUnavailable
from riskd.gateway.positions_stream import liquidation_distance, with_rungs
from tests.kit.gateway import FakeBackend, serving

LONG = {"symbol": "BTCUSDT", "position_side": "LONG", "amount": "0.5", "mark_price": "60000",
        "liquidation_price": "45000"}  # fmt: skip
SHORT = {"symbol": "BTCUSDT", "position_side": "SHORT", "amount": "-0.1",
         "mark_price": "60000", "liquidation_price": "0"}  # fmt: skip


def _rung(side: str, rung: int, trigger: str) -> dict:
    return {"symbol": "BTCUSDT", "position_side": side, "rung": rung, "trigger_price": trigger,
            "quantity": "0.1", "close_position": False, "algo_id": 7}  # fmt: skip


def test_each_position_gets_its_own_rungs_nearest_the_mark_first() -> None:
    rungs = [_rung("LONG", 0, "57000"), _rung("LONG", 1, "58800"), _rung("SHORT", 0, "61000")]

    long, short = with_rungs({"positions": [LONG, SHORT]}, rungs)["positions"]

    assert [r["trigger_price"] for r in long["rungs"]] == ["58800", "57000"]
    assert [r["rung"] for r in short["rungs"]] == [0]
    assert "algo_id" not in long["rungs"][0] and "symbol" not in long["rungs"][0]


def test_rungs_are_unknown_when_the_stop_ladder_does_not_answer() -> None:
    (position,) = with_rungs({"positions": [LONG]}, None)["positions"]
    assert position["rungs"] is None


def test_the_distance_to_liquidation_is_a_share_of_the_mark_when_both_are_known() -> None:
    assert liquidation_distance(LONG) == "0.2500"
    assert liquidation_distance(SHORT) is None  # Binance's 0: no liquidation price
    assert liquidation_distance({"mark_price": None, "liquidation_price": "1"}) is None
    assert liquidation_distance({"mark_price": "x", "liquidation_price": "1"}) is None


async def _read_twice_more(backend: FakeBackend) -> None:
    """Until the stream has read the book twice more."""
    reads = backend.calls.count(("positions", ("main",)))
    while backend.calls.count(("positions", ("main",))) < reads + 2:
        await asyncio.sleep(0.05)


async def test_the_stream_sends_the_book_then_only_its_changes() -> None:
    async with serving() as gateway:
        backend = gateway.backend
        backend.views["main"] = {"account": "main", "now_ms": 1, "positions": [LONG]}
        backend.rungs["main"] = [_rung("LONG", 0, "57000")]
        url = gateway.url + "/v1/positions/stream"
        async with gateway.http.ws_connect(url) as socket:
            first = await socket.receive_json(timeout=5)
            backend.views["main"] = {**backend.views["main"], "now_ms": 2}  # no change
            await _read_twice_more(backend)
            backend.rungs["main"] = []
            second = await socket.receive_json(timeout=5)  # not a message for now_ms alone
            backend.fail["positions"] = BackendUnavailable("position_book-main is not running")
            third = await socket.receive_json(timeout=5)
    assert first["positions"][0]["rungs"][0]["trigger_price"] == "57000"
    assert second["now_ms"] == 2 and second["positions"][0]["rungs"] == []
    assert third == {"account": "main", "error": "position_book-main is not running"}


async def test_a_stop_ladder_or_book_that_never_answers_does_not_freeze_the_stream(
    monkeypatch,
) -> None:
    monkeypatch.setattr(positions_stream, "ANSWER_TIMEOUT_S", 0.2)
    async with serving() as gateway:
        backend = gateway.backend
        backend.views["main"] = {"account": "main", "now_ms": 1, "positions": [LONG]}
        backend.hang.add("ladder_rungs")
        url = gateway.url + "/v1/positions/stream"
        async with gateway.http.ws_connect(url) as socket:
            first = await socket.receive_json(timeout=5)
            backend.hang.add("positions")
            second = await socket.receive_json(timeout=5)
    assert first["positions"][0]["amount"] == "0.5" and first["positions"][0]["rungs"] is None
    assert second == {"account": "main", "error": "no answer within 0.2 s"}


async def test_an_unknown_parameter_or_account_is_refused_before_the_upgrade() -> None:
    async with serving() as gateway:
        unknown, _, answer = await gateway.call("GET", "/v1/positions/stream?acount=main")
        missing, _, _ = await gateway.call("GET", "/v1/positions/stream?account=other")
        plain, _, _ = await gateway.call("GET", "/v1/positions/stream")
    assert (unknown, missing, plain) == (400, 404, 426)
    assert "'acount'" in answer["error"]
