"""The per-IP guard: 429 pauses, 418 bans, one event per episode, header reconciliation."""

from __future__ import annotations

import pytest

from riskd.exchange.errors import IpBanned
from riskd.exchange.guard import IpEvent, IpEventKind, IpGuardConfig, IpGuards

MINUTE = 60_000


@pytest.fixture
def events() -> list[IpEvent]:
    return []


@pytest.fixture
def guards(events: list[IpEvent]) -> IpGuards:
    return IpGuards(
        IpGuardConfig(weight_limit_per_minute=100, cap_fraction=0.9), listeners=[events.append]
    )


def test_429_pauses_until_the_minute_resets(guards: IpGuards, events: list[IpEvent]) -> None:
    guard = guards.for_ip("10.0.0.1")
    until = guard.on_rate_limited(None, 10 * MINUTE + 14_990, 10 * MINUTE + 15_000, "GET /x")
    assert until == 11 * MINUTE
    assert guard.wait_ms(1, 10 * MINUTE + 20_000, "GET /x") == 40_000
    assert [e.kind for e in events] == [IpEventKind.RATE_LIMITED]


def test_retry_after_longer_than_the_window_wins(guards: IpGuards) -> None:
    guard = guards.for_ip("10.0.0.1")
    assert guard.on_rate_limited(90_000, 5_000, 5_000, "GET /x") == 95_000


def test_a_429_sent_at_the_minute_boundary_pauses_by_retry_after_alone(guards: IpGuards) -> None:
    """Binance may have counted it in the previous minute (the clocks differ by up to the
    boundary skew): its 429 says nothing of the new minute, which must not be lost to it."""
    guard = guards.for_ip("10.0.0.1")
    six, seven, eight = 6 * MINUTE, 7 * MINUTE, 8 * MINUTE
    assert guard.on_rate_limited(1_000, six + 2, six + 8, "GET /x") == six + 1_008
    assert guard.wait_ms(1, six + 1_008, "GET /x") == 0
    assert guard.on_rate_limited(None, seven - 5, seven + 20, "GET /x") == seven + 1_020
    # Retry-After says it was this minute's: the pause lasts to its end.
    assert guard.on_rate_limited(60_000, eight + 500, eight + 510, "GET /x") == eight + 60_510


def test_repeated_429s_in_one_episode_raise_one_event(guards, events) -> None:
    guard = guards.for_ip("10.0.0.1")
    for at in (1000, 2000, 3000):
        guard.on_rate_limited(None, at, at, "GET /x")
    assert guard.responses_429 == 3
    assert len(events) == 1


def test_pause_end_raises_an_ended_event_once(guards, events) -> None:
    guard = guards.for_ip("10.0.0.1")
    guard.on_rate_limited(None, 1000, 1000, "GET /x")
    assert guard.wait_ms(1, MINUTE, "GET /x") == 0
    assert guard.wait_ms(1, MINUTE + 1, "GET /x") == 0
    assert [e.kind for e in events] == [IpEventKind.RATE_LIMITED, IpEventKind.RATE_LIMIT_ENDED]


def test_ban_refuses_locally_until_it_ends(guards, events) -> None:
    guard = guards.for_ip("10.0.0.1")
    guard.on_banned(500_000, 1000, "GET /x")
    with pytest.raises(IpBanned) as info:
        guard.wait_ms(0, 499_999, "POST /y")
    assert info.value.until_ms == 500_000 and info.value.endpoint == "POST /y"
    assert guard.wait_ms(1, 500_000, "POST /y") == 0
    assert [e.kind for e in events] == [IpEventKind.BANNED, IpEventKind.BAN_ENDED]
    assert events[0].until_ms == 500_000


def test_guards_are_per_ip(guards: IpGuards) -> None:
    guards.for_ip("10.0.0.1").on_banned(10_000, 0, "GET /x")
    assert guards.for_ip("10.0.0.2").wait_ms(5, 1, "GET /x") == 0
    assert guards.for_ip("10.0.0.1") is guards.for_ip("10.0.0.1")


def test_header_usage_near_the_cap_waits_for_the_next_minute(guards: IpGuards) -> None:
    guard = guards.for_ip("10.0.0.1")
    guard.observe_used_weight(88, 5 * MINUTE + 1000, 5 * MINUTE + 1010)
    assert guard.wait_ms(2, 5 * MINUTE + 2000, "GET /x") == 0
    assert guard.wait_ms(3, 5 * MINUTE + 2000, "GET /x") == MINUTE - 2000
    assert guard.wait_ms(3, 6 * MINUTE, "GET /x") == 0


def test_header_from_the_previous_minute_does_not_fill_the_new_one(guards: IpGuards) -> None:
    guard = guards.for_ip("10.0.0.1")
    guard.observe_used_weight(89, 6 * MINUTE - 5, 6 * MINUTE + 20)  # sent before the boundary
    guard.observe_used_weight(89, 6 * MINUTE + 300, 6 * MINUTE + 320)  # too close to tell
    assert guard.wait_ms(50, 6 * MINUTE + 400, "GET /x") == 0


def test_zero_weight_calls_pass_a_full_minute(guards: IpGuards) -> None:
    guard = guards.for_ip("10.0.0.1")
    guard.observe_used_weight(100, 1000, 1010)
    assert guard.wait_ms(0, 2000, "POST /fapi/v1/order") == 0
