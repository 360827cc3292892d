import re

import pytest

from riskd.risk.locks import (
    ALL,
    Lock,
    LockChanges,
    LockRequest,
    LockSide,
    StateRequest,
    TradingState,
    UnlockRequest,
    is_banned,
    next_trading_state,
    not_overruled,
    operator_lock_request,
    operator_state_request,
    operator_unlock_request,
    reconcile,
)

NOW = 1_000_000


def _request(
    until_ms: int | None,
    symbol: str = "BTCUSDT",
    side: LockSide = "both",
    source: str = "rule:symbol_4h",
    robot: str = "",
) -> LockRequest:
    return LockRequest(symbol, side, "symbol_pnl", "lost too much", source, until_ms, robot=robot)


def _lock(
    until_ms: int | None,
    symbol: str = "BTCUSDT",
    side: LockSide = "both",
    source: str = "rule:symbol_4h",
    lock_id: int = 1,
    active: bool = True,
) -> Lock:
    return Lock(
        id=lock_id,
        account="main",
        symbol=symbol,
        side=side,
        reason_code="symbol_pnl",
        reason_text="lost too much",
        source=source,
        until_ms=until_ms,
        created_ms=NOW - 10,
        active=active,
    )


def test_a_wanted_lock_with_no_active_match_is_created() -> None:
    request = _request(NOW + 500)

    assert reconcile([], [request], NOW) == LockChanges(create=(request,))


def test_a_wanted_lock_ending_later_extends_the_active_one() -> None:
    lock = _lock(NOW + 100)

    changes = reconcile([lock], [_request(NOW + 500)], NOW)

    assert changes == LockChanges(extend=((lock, NOW + 500),))


def test_a_wanted_lock_ending_earlier_never_shortens_the_active_one() -> None:
    changes = reconcile([_lock(NOW + 500)], [_request(NOW + 100)], NOW)

    assert not changes


def test_a_lock_without_an_end_is_neither_extended_nor_expired_by_time() -> None:
    changes = reconcile([_lock(None)], [_request(NOW + 500)], NOW + 10**12)

    assert not changes


def test_a_timed_lock_is_extended_to_forever_when_wanted_forever() -> None:
    lock = _lock(NOW + 100)

    assert reconcile([lock], [_request(None)], NOW).extend == ((lock, None),)


def test_an_active_lock_at_or_past_its_end_expires() -> None:
    ended, running = _lock(NOW, lock_id=1), _lock(NOW + 1, symbol="ETHUSDT", lock_id=2)

    assert reconcile([ended, running], [], NOW) == LockChanges(expire=(ended,))


def test_a_rule_lock_no_longer_wanted_stays_until_its_end() -> None:
    assert not reconcile([_lock(NOW + 100)], [], NOW)


def test_a_request_matching_an_expired_lock_creates_a_new_one() -> None:
    ended, request = _lock(NOW - 1), _request(NOW + 100)

    assert reconcile([ended], [request], NOW) == LockChanges(create=(request,), expire=(ended,))


def test_requests_differing_in_source_symbol_side_or_robot_do_not_match() -> None:
    lock = _lock(NOW + 100)
    requests = [
        _request(NOW + 500, source="rule:symbol_24h"),
        _request(NOW + 500, symbol="ETHUSDT"),
        _request(NOW + 500, side="long"),
        _request(NOW + 500, robot="a"),
    ]

    assert reconcile([lock], requests, NOW) == LockChanges(create=tuple(requests))


def test_requests_already_ended_are_ignored() -> None:
    assert not reconcile([], [_request(NOW)], NOW)


def test_of_duplicate_requests_the_one_ending_last_counts() -> None:
    longest = _request(NOW + 900)

    changes = reconcile([], [_request(NOW + 100), longest, _request(NOW + 500)], NOW)

    assert changes.create == (longest,)


def test_inactive_locks_are_ignored() -> None:
    request = _request(NOW + 100)

    changes = reconcile([_lock(NOW - 5, active=False)], [request], NOW)

    assert changes == LockChanges(create=(request,))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("symbol", "", "needs a symbol"),
        ("side", "up", "side must be long, short or both"),
        ("source", "", "needs a source"),
    ],
)
def test_a_request_states_what_is_wrong(field: str, value: str, message: str) -> None:
    fields = {"symbol": "BTCUSDT", "side": "both", "source": "operator:alice"}
    fields[field] = value
    with pytest.raises(ValueError, match=message):
        LockRequest(reason_code="x", reason_text="y", until_ms=None, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lock_symbol", "lock_side", "symbol", "side", "banned"),
    [
        ("BTCUSDT", "both", "BTCUSDT", "long", True),
        ("BTCUSDT", "both", "BTCUSDT", "short", True),
        ("BTCUSDT", "long", "BTCUSDT", "long", True),
        ("BTCUSDT", "long", "BTCUSDT", "short", False),
        ("BTCUSDT", "short", "BTCUSDT", "both", True),
        ("BTCUSDT", "both", "ETHUSDT", "long", False),
        (ALL, "both", "ETHUSDT", "short", True),
        (ALL, "short", "ETHUSDT", "long", False),
    ],
)
def test_is_banned_by_symbol_and_side(
    lock_symbol: str, lock_side: LockSide, symbol: str, side: LockSide, banned: bool
) -> None:
    locks = [_lock(NOW + 1, symbol=lock_symbol, side=lock_side)]

    assert is_banned(locks, symbol, side, NOW) is banned


def test_is_banned_until_the_lock_ends_and_forever_without_an_end() -> None:
    timed, endless = [_lock(NOW + 1)], [_lock(None)]

    assert is_banned(timed, "BTCUSDT", "long", NOW)
    assert not is_banned(timed, "BTCUSDT", "long", NOW + 1)
    assert is_banned(endless, "BTCUSDT", "long", NOW + 10**12)


def test_an_inactive_lock_bans_nothing_and_a_request_bans_like_a_lock() -> None:
    assert not is_banned([_lock(None, active=False)], "BTCUSDT", "long", NOW)
    assert is_banned([_request(None)], "BTCUSDT", "long", NOW)


# --- operator requests ------------------------------------------------------------------------


def test_operator_request_defaults_to_both_sides_until_unlocked() -> None:
    request = operator_lock_request({"symbol": "DOGEUSDT", "reason": "news", "operator": "alice"})
    assert request == LockRequest(
        symbol="DOGEUSDT",
        side="both",
        reason_code="operator",
        reason_text="news",
        source="operator:alice",
        until_ms=None,
    )


def _body(**fields: object) -> dict:
    return {"symbol": "BTCUSDT", "reason": "r", "operator": "a"} | fields


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([], "the body must be a JSON object"),
        ({"symbol": "X", "reason": "r"}, "operator: must be a non-empty string"),
        (_body(symbol=" "), "symbol: must be a non-empty string"),
        (_body(symbol=["BTCUSDT"]), "symbol: must be a non-empty string"),
        (
            _body(until_ms="soon"),
            "until_ms: must be an integer from 1 to 253402300799999, not 'soon'",
        ),
        (_body(until_ms=True), "until_ms: must be an integer from 1 to 253402300799999, not True"),
        (_body(until_ms=1.5), "until_ms: must be an integer from 1 to 253402300799999, not 1.5"),
        (_body(until_ms=0), "until_ms: must be an integer from 1 to 253402300799999, not 0"),
        (
            _body(until_ms=2**63 - 1),
            "until_ms: must be an integer from 1 to 253402300799999, not 9223372036854775807",
        ),
        (
            _body(until_ms=2**63),
            "until_ms: must be a number from -9223372036854775807 to 9223372036854775807, "
            "not 9223372036854775808",
        ),
        (_body(side="up"), "side: must be long, short or both, not 'up'"),
        (_body(side="LONG"), "side: must be long, short or both, not 'LONG'"),
        (_body(side=["long"]), "side: must be long, short or both, not ['long']"),
        (_body(side={"long": 1}), "side: must be long, short or both, not {'long': 1}"),
        (_body(pwd=1), "unknown fields: ['pwd']"),
        (_body(operator="a" * 65), "operator: at most 64 characters, not 65"),
        (_body(reason="r" * 513), "reason: at most 512 characters, not 513"),
        (_body(reason="a\u202eb"), "reason: must not hold control characters, not 'a\\u202eb'"),
        (_body(operator="al\x1b[2Jice"), "operator: must not hold control characters"),
    ],
)
def test_operator_request_names_what_is_wrong(body: object, error: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(error)}"):
        operator_lock_request(body)


@pytest.mark.parametrize(
    "symbol",
    ["BTC\u0000USDT", "../../etc/passwd", "btc usdt", "btcusdt", "All", "BTC-USDT", "X" * 33],
)
def test_an_operator_lock_refuses_what_cannot_be_a_symbol(symbol: str) -> None:
    with pytest.raises(ValueError, match=r"^symbol: "):
        operator_lock_request(_body(symbol=symbol))


@pytest.mark.parametrize(
    "symbol", ["ALL", "BTCUSDT", "1000PEPEUSDT", "BTCUSDT_250926", "币安人生USDT"]
)
def test_an_operator_lock_takes_a_symbol_as_the_exchange_spells_it(symbol: str) -> None:
    assert operator_lock_request(_body(symbol=symbol)).symbol == symbol


def test_an_operator_unlock_reads_its_arguments() -> None:
    assert operator_unlock_request(7, " bob ", "done") == UnlockRequest(7, "bob", "done")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((True, "bob", "done"), "lock id: must be an integer from 1 to"),
        ((0, "bob", "done"), "lock id: must be an integer from 1 to"),
        ((2**63, "bob", "done"), "lock id: must be an integer from 1 to"),
        ((7, "", "done"), "operator: must be a non-empty string"),
        ((7, "bob", "a\nb"), "reason: must not hold control characters"),
    ],
)
def test_an_operator_unlock_names_what_is_wrong(args: tuple, error: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(error)}"):
        operator_unlock_request(*args)


def _evidenced(evidence_ms: int | None, symbol: str = "BTCUSDT") -> LockRequest:
    return LockRequest(
        symbol, "both", "symbol_pnl", "lost too much", "rule:symbol_4h", NOW + 1000, evidence_ms
    )


def test_an_unlock_overrules_a_rule_until_it_has_newer_evidence() -> None:
    unlocked = {("rule:symbol_4h", "BTCUSDT", "both", ""): NOW}
    same_losses = _evidenced(NOW - 5)
    losses_at_the_unlock = _evidenced(NOW)
    a_new_loss = _evidenced(NOW + 1)
    another_symbol = _evidenced(NOW - 5, symbol="ETHUSDT")

    kept = not_overruled([same_losses, losses_at_the_unlock, a_new_loss, another_symbol], unlocked)

    assert kept == (a_new_loss, another_symbol)


def test_an_unlock_overrules_only_its_own_source_and_side() -> None:
    unlocked = {("rule:symbol_4h", "BTCUSDT", "long"): NOW}
    both_sides = _evidenced(NOW - 5)
    by_an_operator = _request(None, source="operator:alice")

    assert not_overruled([both_sides, by_an_operator], unlocked) == (both_sides, by_an_operator)


ACTIVE, REDUCING, HALTED = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED


@pytest.mark.parametrize(
    ("current", "wanted", "expected"),
    [
        (ACTIVE, REDUCING, REDUCING),
        (REDUCING, HALTED, HALTED),
        (HALTED, REDUCING, REDUCING),  # the rules de-escalate a state they set
        (REDUCING, None, ACTIVE),  # and lift it when no rule sets one
        (REDUCING, REDUCING, None),
        (ACTIVE, None, None),
    ],
)
def test_a_state_the_rules_set_follows_what_they_want(
    current: TradingState, wanted: TradingState | None, expected: TradingState | None
) -> None:
    assert next_trading_state(current, False, NOW - 10, wanted, NOW - 5) == expected


@pytest.mark.parametrize(
    ("current", "wanted", "evidence_ms", "expected"),
    [
        (ACTIVE, REDUCING, NOW - 20, None),  # the losses the operator saw
        (ACTIVE, REDUCING, NOW - 10, None),
        (ACTIVE, REDUCING, NOW - 5, REDUCING),  # a newer loss escalates
        (REDUCING, HALTED, NOW - 5, HALTED),
        (HALTED, REDUCING, NOW - 5, None),  # never de-escalated by the rules
        (HALTED, None, None, None),
    ],
)
def test_an_operators_state_holds_until_rules_escalate_on_newer_evidence(
    current: TradingState,
    wanted: TradingState | None,
    evidence_ms: int | None,
    expected: TradingState | None,
) -> None:
    assert next_trading_state(current, True, NOW - 10, wanted, evidence_ms) == expected


def test_an_operator_state_request_reads_the_body() -> None:
    body = {"account": "main", "state": "HALTED", "operator": " alice ", "reason": "exchange down"}

    assert operator_state_request(body) == StateRequest(HALTED, "alice", "exchange down")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([], "the body must be a JSON object"),
        (
            {"state": "HALTED", "operator": "a", "reason": "r", "until": 1},
            "unknown fields: ['until']",
        ),
        (
            {"state": "PAUSED", "operator": "a", "reason": "r"},
            "state: must be ACTIVE, REDUCING or HALTED, not 'PAUSED'",
        ),
        ({"state": "HALTED", "operator": "a", "reason": " "}, "reason: must be a non-empty string"),
        ({"state": "HALTED", "reason": "r"}, "operator: must be a non-empty string"),
        # Exactly as named: no case folding, so no dotless ı or Kelvin sign slips through.
        (
            {"state": "halted", "operator": "a", "reason": "r"},
            "state: must be ACTIVE, REDUCING or HALTED, not 'halted'",
        ),
        (
            {"state": "act\u0131ve", "operator": "a", "reason": "r"},
            "state: must be ACTIVE, REDUCING or HALTED, not 'actıve'",
        ),
        (
            {"state": ["HALTED"], "operator": "a", "reason": "r"},
            "state: must be ACTIVE, REDUCING or HALTED, not ['HALTED']",
        ),
    ],
)
def test_a_bad_operator_state_request_names_the_field(body: object, error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        operator_state_request(body)
