"""Grouping, repeat, resolve, inhibition and silences, with the time passed in."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from riskd.notify.alerts import (
    AlertEvent,
    Dispatcher,
    InhibitRule,
    Matcher,
    Notification,
    RouteConfig,
    Severity,
    Silence,
    fingerprint,
    labels_of,
    silence_request,
)

T0 = 1_700_000_000_000
ROUTE = RouteConfig(
    group_wait_ms=30_000,
    group_interval_ms=300_000,
    repeat_interval_ms={
        Severity.CRITICAL: 3_600_000,
        Severity.WARNING: 7_200_000,
        Severity.INFO: 86_400_000,
    },
)


def _event(
    name: str = "SymbolLocked",
    at_ms: int = T0,
    firing: bool = True,
    severity: Severity = Severity.WARNING,
    **labels: str,
) -> AlertEvent:
    labels = {"account": "main", **labels}
    return AlertEvent(name, labels_of(name, labels), severity, firing, at_ms)


def _symbols(notification: Notification) -> tuple[list[str], list[str]]:
    """The symbols of the firing and the resolved alerts, each sorted."""
    return (
        sorted(a.label("symbol") for a in notification.firing),
        sorted(a.label("symbol") for a in notification.resolved),
    )


def test_the_fingerprint_is_the_labels_not_their_order() -> None:
    a = labels_of("SymbolLocked", {"account": "main", "symbol": "BTCUSDT"})
    b = labels_of("SymbolLocked", {"symbol": "BTCUSDT", "account": "main"})
    c = labels_of("SymbolLocked", {"account": "main", "symbol": "ETHUSDT"})

    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


@pytest.mark.parametrize(
    ("labels", "error"),
    [
        ({"alertname": "x"}, "'alertname' is the alert's name"),
        ({"Symbol": "BTCUSDT"}, "label name 'Symbol'"),
        ({"symbol": 3}, "label 'symbol': the value must be a string"),
    ],
)
def test_bad_labels_are_refused_by_name(labels: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        labels_of("SymbolLocked", labels)


def test_twenty_bans_in_one_cycle_become_one_notification_after_the_group_wait() -> None:
    dispatcher = Dispatcher(ROUTE)
    for index in range(20):
        dispatcher.observe(_event(at_ms=T0 + index * 100, symbol=f"S{index:02d}USDT"))

    assert dispatcher.flush(T0 + 29_999) == []
    (notification,) = dispatcher.flush(T0 + 30_000)

    assert len(notification.firing) == 20 and notification.resolved == ()
    assert notification.group_labels == (("alertname", "SymbolLocked"), ("account", "main"))


def test_groups_split_by_alert_name_and_account() -> None:
    dispatcher = Dispatcher(ROUTE)
    dispatcher.observe(_event(symbol="BTCUSDT"))
    dispatcher.observe(_event(symbol="BTCUSDT", account="hedge"))
    dispatcher.observe(_event("IpBanned", account="main", ip="10.0.0.5"))

    notifications = dispatcher.flush(T0 + 30_000)

    assert sorted(n.group_labels for n in notifications) == [
        (("alertname", "IpBanned"), ("account", "main")),
        (("alertname", "SymbolLocked"), ("account", "hedge")),
        (("alertname", "SymbolLocked"), ("account", "main")),
    ]


def test_a_new_alert_in_a_told_group_waits_for_the_group_interval() -> None:
    dispatcher = Dispatcher(ROUTE)
    dispatcher.observe(_event(symbol="BTCUSDT"))
    dispatcher.flush(T0 + 30_000)
    dispatcher.observe(_event(at_ms=T0 + 60_000, symbol="ETHUSDT"))

    assert dispatcher.flush(T0 + 329_999) == []
    (notification,) = dispatcher.flush(T0 + 330_000)
    assert _symbols(notification) == (["BTCUSDT", "ETHUSDT"], [])


def _run_until(dispatcher: Dispatcher, until_ms: int) -> list[Notification]:
    """Flush at every due time up to *until_ms*, as the Alerter's loop does."""
    told: list[Notification] = []
    while (due_ms := dispatcher.next_due_ms()) is not None and due_ms <= until_ms:
        told += dispatcher.flush(due_ms)
    return told


def test_an_unchanged_firing_group_repeats_at_its_severitys_interval() -> None:
    dispatcher = Dispatcher(ROUTE)
    dispatcher.observe(_event(symbol="BTCUSDT"))  # a warning: every 2 h
    dispatcher.observe(_event(at_ms=T0 + 40_000, symbol="BTCUSDT"))  # the same, again

    told = _run_until(dispatcher, T0 + 30_000 + 2 * 7_200_000 - 1)

    assert [n.at_ms for n in told] == [T0 + 30_000, T0 + 30_000 + 7_200_000]


def test_a_critical_alert_repeats_the_group_hourly() -> None:
    dispatcher = Dispatcher(ROUTE)
    dispatcher.observe(_event(symbol="BTCUSDT", severity=Severity.CRITICAL))

    told = _run_until(dispatcher, T0 + 30_000 + 2 * 3_600_000)

    assert [n.at_ms - T0 for n in told] == [30_000, 3_630_000, 7_230_000]


def test_a_resolved_alert_is_told_once_and_the_group_is_then_forgotten() -> None:
    dispatcher = Dispatcher(ROUTE)
    dispatcher.observe(_event(symbol="BTCUSDT"))
    dispatcher.observe(_event(symbol="ETHUSDT"))
    dispatcher.flush(T0 + 30_000)
    dispatcher.observe(_event(at_ms=T0 + 100_000, firing=False, symbol="BTCUSDT"))

    (notification,) = dispatcher.flush(T0 + 330_000)
    assert _symbols(notification) == (["ETHUSDT"], ["BTCUSDT"])
    dispatcher.observe(_event(at_ms=T0 + 400_000, firing=False, symbol="ETHUSDT"))
    (last,) = dispatcher.flush(T0 + 630_000)
    assert _symbols(last) == ([], ["ETHUSDT"])
    assert dispatcher.groups == {} and dispatcher.alerts == {}


def test_an_alert_that_fired_and_resolved_within_the_wait_is_told_as_resolved() -> None:
    dispatcher = Dispatcher(ROUTE)
    dispatcher.observe(_event(symbol="BTCUSDT"))
    dispatcher.observe(_event(at_ms=T0 + 10_000, firing=False, symbol="BTCUSDT"))

    (notification,) = dispatcher.flush(T0 + 30_000)

    assert _symbols(notification) == ([], ["BTCUSDT"])
    (alert,) = notification.resolved
    assert (alert.starts_ms, alert.ends_ms) == (T0, T0 + 10_000)


def test_a_resolve_for_an_unknown_alert_tells_nobody() -> None:
    dispatcher = Dispatcher(ROUTE)
    dispatcher.observe(_event(firing=False, symbol="BTCUSDT"))

    assert dispatcher.flush(T0 + 10**9) == [] and dispatcher.groups == {}


def test_a_refiring_alert_keeps_its_start_while_it_fires() -> None:
    dispatcher = Dispatcher(ROUTE)
    dispatcher.observe(_event(symbol="BTCUSDT"))
    again = dispatcher.observe(_event(at_ms=T0 + 5_000, symbol="BTCUSDT"))

    assert (again.starts_ms, again.updated_ms) == (T0, T0 + 5_000)


ALL_MUTES_SYMBOLS = InhibitRule(
    source=(Matcher(label="alertname", value="AllLocked"),),
    target=(Matcher(label="alertname", value="SymbolLocked"),),
    equal=("account",),
)


def test_all_locked_inhibits_that_accounts_symbol_bans_only() -> None:
    dispatcher = Dispatcher(ROUTE, inhibit_rules=(ALL_MUTES_SYMBOLS,))
    dispatcher.observe(_event("AllLocked"))
    dispatcher.observe(_event(symbol="BTCUSDT"))
    dispatcher.observe(_event(symbol="BTCUSDT", account="hedge"))

    told = {n.group_labels: n for n in dispatcher.flush(T0 + 30_000)}

    assert set(told) == {
        (("alertname", "AllLocked"), ("account", "main")),
        (("alertname", "SymbolLocked"), ("account", "hedge")),
    }


def test_when_the_inhibiting_alert_resolves_the_muted_alerts_are_told() -> None:
    dispatcher = Dispatcher(ROUTE, inhibit_rules=(ALL_MUTES_SYMBOLS,))
    dispatcher.observe(_event("AllLocked"))
    dispatcher.observe(_event(symbol="BTCUSDT"))
    dispatcher.flush(T0 + 30_000)
    dispatcher.observe(_event("AllLocked", at_ms=T0 + 60_000, firing=False))
    dispatcher.observe(_event(at_ms=T0 + 60_000, symbol="ETHUSDT"))

    told = {n.group_labels[0][1]: n for n in dispatcher.flush(T0 + 330_000)}

    assert _symbols(told["SymbolLocked"]) == (["BTCUSDT", "ETHUSDT"], [])
    assert told["AllLocked"].resolved[0].name == "AllLocked"


def test_a_told_group_whose_alerts_all_become_muted_tells_nothing_until_they_show_again() -> None:
    dispatcher = Dispatcher(ROUTE, inhibit_rules=(ALL_MUTES_SYMBOLS,))
    dispatcher.observe(_event(symbol="BTCUSDT"))
    (first,) = dispatcher.flush(T0 + 30_000)
    dispatcher.observe(_event("AllLocked", at_ms=T0 + 60_000))  # an operator halts the account

    told = dispatcher.flush(T0 + 330_000)

    assert [n.group_labels[0][1] for n in told] == ["AllLocked"]  # no empty SymbolLocked card
    assert all(n.firing or n.resolved for n in told)
    dispatcher.observe(_event("AllLocked", at_ms=T0 + 400_000, firing=False))
    again = {n.group_labels[0][1]: n for n in dispatcher.flush(T0 + 630_000)}
    assert _symbols(again["SymbolLocked"]) == (["BTCUSDT"], [])
    assert _symbols(first) == (["BTCUSDT"], [])


def test_a_silence_mutes_what_it_matches_until_it_expires() -> None:
    silence = Silence(
        id=1,
        matchers=(Matcher.parse("symbol=~BTC.*"),),
        starts_ms=T0,
        ends_ms=T0 + 600_000,
        created_by="alice",
        comment="known issue",
    )
    dispatcher = Dispatcher(ROUTE)
    dispatcher.observe(_event(symbol="BTCUSDT"))
    dispatcher.observe(_event(symbol="ETHUSDT"))

    (during,) = dispatcher.flush(T0 + 30_000, [silence])
    assert _symbols(during) == (["ETHUSDT"], [])
    (after,) = dispatcher.flush(T0 + 600_000, [silence])  # expired: BTCUSDT is news
    assert _symbols(after) == (["BTCUSDT", "ETHUSDT"], [])


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("symbol=BTCUSDT", {"symbol": "BTCUSDT"}, True),
        ('symbol="BTCUSDT"', {"symbol": "ETHUSDT"}, False),
        ("symbol!=BTCUSDT", {}, True),
        ("symbol=~BTC.*", {"symbol": "BTCUSDT"}, True),
        ("symbol=~BTC", {"symbol": "BTCUSDT"}, False),  # the whole value
        ("symbol!~BTC.*", {"symbol": "ETHUSDT"}, True),
        ("account=", {}, True),  # a missing label is ""
    ],
)
def test_matchers_compare_the_whole_value(text: str, labels: dict, matches: bool) -> None:
    assert Matcher.parse(text).matches(labels_of("X", labels)) is matches


def test_a_regex_matches_in_linear_time_whatever_the_pattern() -> None:
    nested = Matcher.parse("symbol=~(A+)+")  # exponential for a backtracking engine
    assert not nested.matches(labels_of("X", {"symbol": "A" * 27 + "!"}))
    assert nested.matches(labels_of("X", {"symbol": "A" * 10_000}))


def test_a_regex_is_anchored_at_both_ends_as_in_alertmanager() -> None:
    either = Matcher.parse("symbol=~BTC|ETH")  # ^(?:BTC|ETH)$, not ^BTC or ETH$
    assert not either.matches(labels_of("X", {"symbol": "BTCUSDT"}))
    assert not either.matches(labels_of("X", {"symbol": "XETH"}))
    assert either.matches(labels_of("X", {"symbol": "ETH"}))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("BTCUSDT", "matcher 'BTCUSDT': expected label=value"),
        ("Symbol=x", "matcher 'Symbol=x': expected label=value"),
        (
            "symbol=~[",
            "matcher 'symbol=~[': '[' is not a regular expression RE2 accepts: missing ]",
        ),
        (
            r"symbol=~(A)\1",
            r"matcher 'symbol=~(A)\\1': '(A)\\1' is not a regular expression RE2 accepts: "
            r"invalid escape sequence: \1",
        ),
        ("symbol=~BTC(?=USDT)", "'BTC(?=USDT)' is not a regular expression RE2 accepts: invalid"),
        ("symbol=~(?<=X)BTC", "'(?<=X)BTC' is not a regular expression RE2 accepts: invalid"),
        ("symbol=~A{1001}", "RE2 accepts: invalid repetition size: {1001}"),
        ("symbol=" + "A" * 257, "the value has 257 characters, at most 256"),
    ],
)
def test_a_bad_matcher_is_refused_with_a_precise_message(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        Matcher.parse(text)


def test_an_over_long_regex_is_refused_naming_its_matcher_cut_short() -> None:
    with pytest.raises(ValueError) as refused:
        Matcher.parse("symbol=~" + "A" * 257)
    message = str(refused.value)
    assert message.startswith("matcher 'symbol=~AAA")
    assert message.endswith("…': the value has 257 characters, at most 256")


def test_a_long_matcher_text_is_parsed_in_linear_time() -> None:
    text = "symbol=x" + " " * 50_000 + "\nx"  # quadratic for a backtracking parse
    with pytest.raises(ValueError, match="expected label=value"):
        Matcher.parse(text)


def test_a_matcher_made_directly_is_checked_as_a_parsed_one() -> None:
    with pytest.raises(ValidationError, match="is not a regular expression RE2 accepts"):
        Matcher(label="symbol", op="!~", value="(?P<x>A)(?P=x)")


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"matchers": ()}, "at least one matcher"),
        ({"ends_ms": T0}, "must end after it starts"),
        ({"comment": " "}, "creator and a comment"),
    ],
)
def test_a_bad_silence_is_refused(changes: dict, error: str) -> None:
    fields = {
        "id": 1,
        "matchers": (Matcher.parse("symbol=BTCUSDT"),),
        "starts_ms": T0,
        "ends_ms": T0 + 1,
        "created_by": "alice",
        "comment": "why",
    } | changes
    with pytest.raises(ValueError, match=error):
        Silence(**fields)


def test_a_route_needs_a_repeat_interval_per_severity() -> None:
    with pytest.raises(ValidationError, match="no repeat interval for info"):
        RouteConfig(repeat_interval_ms={Severity.CRITICAL: 1, Severity.WARNING: 1})


def test_an_alert_not_reported_again_resolves_after_the_resolve_timeout() -> None:
    dispatcher = Dispatcher(ROUTE)  # resolve_timeout_ms: 5 minutes
    dispatcher.observe(_event(symbol="BTCUSDT"))
    dispatcher.observe(_event(symbol="ETHUSDT"))
    dispatcher.flush(T0 + 30_000)
    dispatcher.observe(_event(at_ms=T0 + 240_000, symbol="ETHUSDT"))  # still firing

    assert dispatcher.resolve_stale(T0 + 299_999) == []
    (stale,) = dispatcher.resolve_stale(T0 + 300_000)
    assert (stale.label("symbol"), stale.ends_ms) == ("BTCUSDT", T0 + 300_000)
    (told,) = dispatcher.flush(T0 + 330_000)
    assert _symbols(told) == (["ETHUSDT"], ["BTCUSDT"])


def test_a_silence_request_reads_matchers_and_minutes() -> None:
    body = {
        "matchers": ["symbol=BTCUSDT", "account!=test"],
        "minutes": 30,
        "created_by": " alice ",
        "comment": "known",
    }

    matchers, starts_ms, ends_ms, by, comment = silence_request(body, T0)

    assert [str(m) for m in matchers] == ['symbol="BTCUSDT"', 'account!="test"']
    assert (starts_ms, ends_ms, by, comment) == (T0, T0 + 1_800_000, "alice", "known")


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"matchers": []}, "matchers: must be a non-empty list"),
        ({"matchers": ["symbol~BTC"]}, "expected label=value"),
        ({"minutes": None}, "give exactly one of minutes and ends_ms"),
        ({"ends_ms": T0 + 1}, "give exactly one of minutes and ends_ms"),
        ({"minutes": -1}, "minutes: must be a positive number"),
        ({"minutes": 31 * 24 * 60}, "at most 30 days"),
        ({"comment": ""}, "comment: must be a non-empty string"),
        ({"until": 1}, "unknown fields: ['until']"),
    ],
)
def test_a_bad_silence_request_names_the_field(changes: dict, error: str) -> None:
    body = {"matchers": ["symbol=BTCUSDT"], "minutes": 5, "created_by": "a", "comment": "c"}
    body = {key: value for key, value in (body | changes).items() if value is not None}
    with pytest.raises(ValueError, match=re.escape(error)):
        silence_request(body, T0)
