"""The emergency flatten's decisions: the request, the slices, hedge and one-way orders, a
robot's share, the orders it cancels (never the ladder's), its progress and its report."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskd.positions import PositionKey
from riskd.protect.flatten import (
    FlattenOutcome,
    FlattenProgress,
    FlattenScope,
    FlattenStep,
    LeftReason,
    Slice,
    SliceStatus,
    StepStatus,
    flatten_request,
    market_slices,
    orders_to_cancel,
    scope_targets,
    slice_client_id,
)
from riskd.protect.ladder import rung_client_id
from tests.kit.flatten import ROBOTS, SMALL_LOTS, STARTED_MS, request
from tests.kit.samples import BTC, algo_order, open_order

D = Decimal
BTC_BOTH, ETH_BOTH = PositionKey("BTCUSDT", "BOTH"), PositionKey("ETHUSDT", "BOTH")
BTC_LONG, BTC_SHORT = PositionKey("BTCUSDT", "LONG"), PositionKey("BTCUSDT", "SHORT")
FILTERS = {"BTCUSDT": SMALL_LOTS, "ETHUSDT": BTC}


# ------------------------------------------------------------------------ the request


def test_a_request_names_its_scope_who_and_why() -> None:
    body = {"operator": " alice ", "reason": "drill", "symbol": "BTCUSDT", "robot": "r1"}
    wanted = flatten_request(body | {"account": "main"})
    assert wanted.scope == FlattenScope("BTCUSDT", "r1")
    assert (wanted.operator, wanted.reason) == ("alice", "drill")
    assert str(wanted.scope) == "robot r1 on BTCUSDT"
    assert str(flatten_request({"operator": "a", "reason": "r"}).scope) == "account"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"reason": "r"}, "operator: must be a non-empty string"),
        ({"operator": "a"}, "reason: must be a non-empty string"),
        ({"operator": "a", "reason": " "}, "reason: must be a non-empty string"),
        ({"operator": "a", "reason": "r", "symbol": "ALL"}, "symbol: leave it out"),
        ({"operator": "a", "reason": "r", "symbol": "btc usdt"}, "symbol: 'btc usdt' is not"),
        ({"operator": "a", "reason": "r", "robot": "r 1"}, "robot: 'r 1' is not a robot's"),
        ({"operator": "a", "reason": "r", "robot": 7}, "robot: 7 is not a robot's"),
        ({"operator": "a", "reason": "r", "side": "long"}, "unknown fields: ['side']"),
        (["operator"], "the body must be a JSON object"),
    ],
)
def test_a_bad_request_names_its_field(body: object, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("(", r"\(").replace("[", r"\[")):
        flatten_request(body)


# ------------------------------------------------------------------------ slicing


@pytest.mark.parametrize(
    ("quantity", "slices", "dust"),
    [
        ("0.3", ["0.300"], "0"),  # within MARKET_LOT_SIZE: one order
        ("1.2", ["0.500", "0.500", "0.200"], "0"),  # at most the maximum each
        ("0.5", ["0.500"], "0"),
        ("0.0123", ["0.010"], "0.0023"),  # on the step; below it is dust
        ("1.005", ["0.500", "0.495", "0.010"], "0"),  # a remainder below min borrows from the last
        ("0.005", [], "0.005"),  # below the minimum: no order can carry it
        ("0", [], "0"),
    ],
)
def test_a_position_is_sliced_to_the_market_lot_size(
    quantity: str, slices: list[str], dust: str
) -> None:
    got, left = market_slices(D(quantity), SMALL_LOTS)
    assert [f"{q:f}" for q in got] == slices
    assert left == D(dust)
    assert all(SMALL_LOTS.market_min_qty <= q <= SMALL_LOTS.market_max_qty for q in got)
    assert all(q % SMALL_LOTS.market_step_size == 0 for q in got)
    assert sum(got, D(0)) + left == D(quantity)


def test_one_way_slices_are_reduce_only_and_hedge_slices_name_their_side() -> None:
    one_way = Slice("BTCUSDT", "BOTH", "SELL", D("0.25"), "fl-1-0000", 1).params(SMALL_LOTS)
    assert one_way == {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "MARKET",
        "quantity": "0.250",
        "newClientOrderId": "fl-1-0000",
        "newOrderRespType": "RESULT",
        "reduceOnly": "true",
    }
    hedge = Slice("BTCUSDT", "SHORT", "BUY", D("0.25"), "fl-1-0001", 1).params(SMALL_LOTS)
    assert hedge["positionSide"] == "SHORT" and hedge["side"] == "BUY"
    assert "reduceOnly" not in hedge  # Binance refuses it in hedge mode


def test_client_ids_are_a_flattens_own_or_the_robots_and_fit_binance() -> None:
    assert slice_client_id("", STARTED_MS, 0) == f"fl-{STARTED_MS:x}-0000"
    robot = slice_client_id("rb-robot_name_16ch-", STARTED_MS, 36**4 - 1)
    assert robot.startswith("rb-robot_name_16ch-f") and robot.endswith("zzzz")
    assert len(robot) <= 36
    assert ROBOTS.robot_of(slice_client_id("rb-r1-", STARTED_MS, 5)) == "r1"
    with pytest.raises(ValueError, match="outside"):
        slice_client_id("", STARTED_MS, 36**4)


# ------------------------------------------------------------------------ what to close


def test_an_accounts_flatten_closes_every_position_and_a_symbols_only_its_own() -> None:
    positions = {BTC_BOTH: D("1.5"), ETH_BOTH: D("-2"), PositionKey("SOLUSDT", "BOTH"): D(0)}
    targets, left = scope_targets(FlattenScope(), positions)
    assert [(t.key, t.side, t.quantity, t.goal) for t in targets] == [
        (BTC_BOTH, "SELL", D("1.5"), 0),
        (ETH_BOTH, "BUY", D("2"), 0),
    ]
    assert left == ()
    targets, _ = scope_targets(FlattenScope("ETHUSDT"), positions)
    assert [t.key for t in targets] == [ETH_BOTH]


def test_a_robots_flatten_closes_its_own_share_never_more_than_the_account_holds() -> None:
    positions = {BTC_LONG: D("1.0"), BTC_SHORT: D("-0.3"), ETH_BOTH: D("0.2")}
    held = {
        ("r1", "BTCUSDT", "LONG"): D("0.4"),  # part of the account's long
        ("r2", "BTCUSDT", "LONG"): D("0.6"),  # another robot's: not touched
        ("r1", "BTCUSDT", "SHORT"): D("-0.5"),  # more than the account's short
        ("r1", "ETHUSDT", "BOTH"): D("-0.1"),  # short, but the account is long (netted)
    }
    targets, left = scope_targets(FlattenScope(robot="r1"), positions, held)
    assert [(t.key, t.side, t.quantity, t.goal) for t in targets] == [
        (BTC_LONG, "SELL", D("0.4"), D("0.6")),
        (BTC_SHORT, "BUY", D("0.3"), D("0")),
    ]
    assert [(p.symbol, p.position_side, p.amount, p.reason) for p in left] == [
        ("BTCUSDT", "SHORT", D("-0.2"), LeftReason.NOT_HELD),
        ("ETHUSDT", "BOTH", D("-0.1"), LeftReason.NOT_HELD),
    ]
    assert "the account 0.2" in left[1].detail
    # Another robot trading the account's long down leaves r1's target reached early.
    assert targets[0].remaining(D("0.5")) == 0
    assert targets[0].remaining(D("0.8")) == D("0.2")
    assert targets[0].remaining(D("-0.1")) == 0  # flipped: nothing of r1's long is left


# ------------------------------------------------------------------------ what to cancel


def test_the_flatten_cancels_orders_in_scope_but_never_the_ladders_rungs() -> None:
    rung = rung_client_id("main", "BTCUSDT", "BOTH", 1, 0)
    orders = [
        open_order(1, client_order_id="rb-r1-a"),
        open_order(2, client_order_id="r2x.grid"),
        open_order(3, client_order_id="manual"),
        open_order(4, "ETHUSDT", client_order_id="rb-r1-b"),
        open_order(5, client_order_id="rl" + rung.removeprefix("rl")),  # a rung's own prefix
    ]
    algo = [algo_order(11, rung), algo_order(12, "rb-r1-tp"), algo_order(13, "hand-stop")]

    account = orders_to_cancel(FlattenScope(), orders, algo, ROBOTS)
    assert [o.order_id for o in account.orders] == [1, 2, 3, 4]
    assert [a.algo_id for a in account.algo_orders] == [12, 13]
    assert account.kept_rungs == 2

    symbol = orders_to_cancel(FlattenScope("ETHUSDT"), orders, algo, ROBOTS)
    assert ([o.order_id for o in symbol.orders], symbol.algo_orders) == ([4], ())
    assert symbol.kept_rungs == 0  # the rungs are BTCUSDT's

    robot = orders_to_cancel(FlattenScope(robot="r2"), orders, algo, ROBOTS)
    assert ([o.order_id for o in robot.orders], robot.algo_orders) == ([2], ())
    r1_btc = orders_to_cancel(FlattenScope("BTCUSDT", "r1"), orders, algo, ROBOTS)
    assert [o.order_id for o in r1_btc.orders] == [1]
    assert [a.algo_id for a in r1_btc.algo_orders] == [12]


# ------------------------------------------------------------------------ progress and report


def _stopped_and_cancelled(progress: FlattenProgress) -> None:
    progress.step(FlattenStep.STOP, StepStatus.DONE, "the account is HALTED")
    progress.cancelled("BTCUSDT", "manual", 3, algo=False)
    progress.cancels_finished()


def _filled(progress: FlattenProgress, slices: list[Slice]) -> None:
    for order in slices:
        progress.sending(order)
        progress.answered(order, SliceStatus.FILLED, order.quantity)


def test_a_flatten_confirmed_flat_reports_every_step_done() -> None:
    progress = FlattenProgress("main", request(), STARTED_MS)
    _stopped_and_cancelled(progress)
    progress.positions_read({BTC_BOTH: D("1.2"), ETH_BOTH: D("-0.02")})
    slices = progress.next_slices(FILTERS, attempt=1)
    assert [(s.symbol, s.side, f"{s.quantity:f}") for s in slices] == [
        ("BTCUSDT", "SELL", "0.500"),
        ("BTCUSDT", "SELL", "0.500"),
        ("BTCUSDT", "SELL", "0.200"),
        ("ETHUSDT", "BUY", "0.020"),
    ]
    assert len({s.client_order_id for s in slices}) == 4
    progress.attempts = 1
    _filled(progress, slices)
    progress.closed()
    assert not progress.flat  # not until a read after the slices says so
    assert progress.to_send() == {}  # the answers filled everything
    progress.positions_read({})
    assert progress.flat

    report = progress.report(STARTED_MS + 900)
    assert report.outcome is FlattenOutcome.FLAT
    assert [(s.step.value, s.status.value) for s in report.steps] == [
        ("stop", "done"),
        ("cancel", "done"),
        ("close", "done"),
        ("confirm", "done"),
    ]
    assert report.left == () and report.closed == 2
    shown = report.to_dict()
    assert shown["slices"][0] | {"client_order_id": ""} == {
        "symbol": "BTCUSDT",
        "position_side": "BOTH",
        "side": "SELL",
        "quantity": "0.500",
        "client_order_id": "",
        "attempt": 1,
        "status": "filled",
        "filled_qty": "0.500",
        "code": None,
        "message": "",
    }
    assert shown["cancelled"] == [
        {
            "symbol": "BTCUSDT",
            "client_id": "manual",
            "order_id": 3,
            "algo": False,
            "cancelled": True,
            "error": "",
        }
    ]


def test_a_read_that_lags_the_fills_does_not_close_twice() -> None:
    progress = FlattenProgress("main", request(), STARTED_MS)
    progress.positions_read({BTC_BOTH: D("0.3")})
    _filled(progress, progress.next_slices(FILTERS, attempt=1))
    progress.positions_read({BTC_BOTH: D("0.3")})  # the exchange has not caught up yet
    assert progress.next_slices(FILTERS, attempt=2) == []
    partly = FlattenProgress("main", request(), STARTED_MS)
    partly.positions_read({BTC_BOTH: D("0.3")})
    (order,) = partly.next_slices(FILTERS, attempt=1)
    partly.sending(order)
    partly.answered(order, SliceStatus.PARTIALLY_FILLED, D("0.1"))
    partly.positions_read({BTC_BOTH: D("0.3")})
    assert [f"{s.quantity:f}" for s in partly.next_slices(FILTERS, attempt=2)] == ["0.200"]


def test_an_incomplete_flatten_says_exactly_what_is_left_and_why() -> None:
    progress = FlattenProgress("main", request(), STARTED_MS)
    _stopped_and_cancelled(progress)
    key_sol = PositionKey("SOLUSDT", "BOTH")
    progress.positions_read(
        {BTC_LONG: D("0.3"), ETH_BOTH: D("0.0004"), key_sol: D("5"), BTC_SHORT: D("-0.2")}
    )
    for attempt in (1, 2):
        slices = progress.next_slices(FILTERS, attempt)
        progress.attempts = attempt
        for order in slices:
            progress.sending(order)
            if order.position_side == "LONG":
                progress.answered(
                    order, SliceStatus.REJECTED, code=-2022, message="ReduceOnly Order is rejected."
                )
            else:
                progress.answered(order, SliceStatus.FILLED, order.quantity)
        if attempt == 1:
            progress.closed()
        progress.positions_read(
            {BTC_LONG: D("0.3"), ETH_BOTH: D("0.0004"), key_sol: D("5"), BTC_SHORT: D("-0.05")}
        )
    report = progress.report(STARTED_MS + 5_000)

    assert report.outcome is FlattenOutcome.INCOMPLETE
    left = {(p.symbol, p.position_side): (p.amount, p.reason, p.detail) for p in report.left}
    assert left[("BTCUSDT", "LONG")] == (
        D("0.3"),
        LeftReason.REJECTED,
        "code -2022: ReduceOnly Order is rejected.",
    )
    amount, reason, detail = left[("ETHUSDT", "BOTH")]
    assert (amount, reason) == (D("0.0004"), LeftReason.DUST)
    assert "MARKET_LOT_SIZE minimum 0.001" in detail
    assert left[("SOLUSDT", "BOTH")][:2] == (D("5"), LeftReason.NO_FILTERS)
    # Filled by the answers, yet the exchange still shows 0.05: never sent twice, left.
    assert left[("BTCUSDT", "SHORT")] == (
        D("-0.05"),
        LeftReason.NOT_CONFIRMED,
        "the orders' answers say 0.200 filled, yet the exchange still shows 0.05 open after "
        "2 attempt(s)",
    )
    close, confirm = report.steps[2], report.steps[3]
    assert close.status is StepStatus.PARTIAL
    assert "rejected, code -2022" in close.detail
    assert (confirm.status, confirm.detail) == (
        StepStatus.FAILED,
        "4 position(s) still open after 2 attempt(s)",
    )
    assert [s["code"] for s in report.to_dict()["slices"] if s["status"] == "rejected"] == [
        -2022,
        -2022,
    ]


def test_a_flatten_that_cannot_read_the_positions_or_runs_out_of_time_says_why() -> None:
    unread = FlattenProgress("main", request("BTCUSDT"), STARTED_MS)
    unread.step(FlattenStep.STOP, StepStatus.DONE, "locked BTCUSDT")
    unread.cancels_finished()
    unread.stop(LeftReason.EXCHANGE_ERROR, "the positions could not be read: IP 127.0.0.2 banned")
    report = unread.report(STARTED_MS + 10)
    assert report.outcome is FlattenOutcome.INCOMPLETE
    assert [(s.step.value, s.status.value) for s in report.steps] == [
        ("stop", "done"),
        ("cancel", "skipped"),
        ("close", "failed"),
        ("confirm", "failed"),
    ]
    assert "banned" in report.steps[3].detail

    late = FlattenProgress("main", request(robot="r1"), STARTED_MS, "rb-r1-")
    late.positions_read({BTC_BOTH: D("1")}, {("r1", "BTCUSDT", "BOTH"): D("0.4")})
    (order,) = late.next_slices(FILTERS, attempt=1)
    assert order.client_order_id.startswith("rb-r1-f")  # the robot's fill
    late.attempts = 1
    late.sending(order)  # no answer: the timeout cancelled the placement
    late.stop(LeftReason.TIMED_OUT, "the flatten did not finish within 30000 ms")
    report = late.report(STARTED_MS + 30_000)
    (left,) = report.left
    assert (left.amount, left.reason) == (D("0.4"), LeftReason.EXCHANGE_ERROR)
    assert report.slices[0].status is SliceStatus.UNKNOWN
    assert report.steps[3].detail == "the flatten did not finish within 30000 ms"


def test_nothing_open_in_scope_is_flat_at_once() -> None:
    progress = FlattenProgress("main", request("ETHUSDT"), STARTED_MS)
    progress.step(FlattenStep.STOP, StepStatus.DONE, "locked ETHUSDT")
    progress.cancels_finished()
    progress.positions_read({BTC_BOTH: D("1")})
    assert progress.next_slices(FILTERS, attempt=1) == []
    progress.closed()
    report = progress.report(STARTED_MS + 5)
    assert report.outcome is FlattenOutcome.FLAT
    assert report.steps[2].status is StepStatus.SKIPPED


def test_a_retry_that_closes_what_the_first_round_failed_to_is_flat() -> None:
    progress = FlattenProgress("main", request(), STARTED_MS)
    _stopped_and_cancelled(progress)
    progress.positions_read({BTC_BOTH: D("0.2")})
    (first,) = progress.next_slices(FILTERS, attempt=1)
    progress.attempts = 1
    progress.sending(first)
    progress.answered(first, SliceStatus.FAILED, message="POST /fapi/v1/order: HTTP 502")
    progress.closed()
    progress.positions_read({BTC_BOTH: D("0.2")})
    (second,) = progress.next_slices(FILTERS, attempt=2)
    assert second.client_order_id != first.client_order_id  # a new order, never a resend
    progress.attempts = 2
    _filled(progress, [second])
    progress.positions_read({})
    report = progress.report(STARTED_MS + 1_000)
    assert report.outcome is FlattenOutcome.FLAT
    assert report.steps[2].status is StepStatus.FAILED  # the first round, as it went
    assert "HTTP 502" in report.steps[2].detail
