from __future__ import annotations

from decimal import Decimal

import pytest

from riskd.risk.attribution import (
    UNATTRIBUTED,
    Attribution,
    FilledQuantity,
    position_holders,
    robot_positions,
)

ROBOTS = Attribution([("rb-a-", "a"), ("alpha", "b"), ("alpha.long", "c")])


@pytest.mark.parametrize(
    ("client_order_id", "robot"),
    [
        ("rb-a-18c2f001", "a"),
        ("alpha-1", "b"),
        ("alpha.long-1", "c"),  # the longest prefix wins
        ("rl1a2b.B1.0.BTCUSDT", UNATTRIBUTED),  # riskd's stop ladder
        ("", UNATTRIBUTED),
    ],
)
def test_an_order_is_the_robot_of_its_longest_matching_prefix(
    client_order_id: str, robot: str
) -> None:
    assert ROBOTS.robot_of(client_order_id) == robot


def _fill(
    client: str, side: str, qty: str, at_ms: int, position_side: str = "BOTH"
) -> FilledQuantity:
    return FilledQuantity(client, "BTCUSDT", position_side, side, Decimal(qty), at_ms)


def test_positions_per_robot_are_what_their_fills_built_and_flat_ones_are_left_out() -> None:
    fills = [
        _fill("rb-a-1", "BUY", "0.3", 1),
        _fill("alpha-1", "SELL", "0.1", 2),
        _fill("alpha-2", "BUY", "0.1", 3),
        _fill("manual", "SELL", "0.5", 4, "SHORT"),
    ]

    assert robot_positions(fills, ROBOTS) == {
        ("a", "BTCUSDT", "BOTH"): Decimal("0.3"),
        (UNATTRIBUTED, "BTCUSDT", "SHORT"): Decimal("-0.5"),
    }


def test_the_holders_of_a_side_are_the_robots_holding_it_just_before() -> None:
    fills = [
        _fill("rb-a-1", "BUY", "0.3", 10),
        _fill("alpha-1", "SELL", "0.1", 20),
        _fill("alpha.long-1", "BUY", "0.2", 30, "LONG"),
        _fill("rb-a-2", "SELL", "0.3", 40),
    ]
    sides = [(40, "BTCUSDT", "long"), (25, "BTCUSDT", "short"), (41, "BTCUSDT", "long")]

    assert position_holders(fills, ROBOTS, sides) == [("a", "c"), ("b",), ("c",)]
