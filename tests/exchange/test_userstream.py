"""User-stream messages → typed events, from recorded fixtures and bad input."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from riskd.exchange.parse import PayloadError, parse_account_update
from riskd.exchange.parse_orders import (
    AlgoUpdate,
    OrderUpdate,
    parse_algo_update,
    parse_order_update,
)
from riskd.exchange.userstream import USER_STREAM, ListenKeyExpired, parse_user_event
from riskd.positions import STREAM_SOURCE, SourceSnapshot
from tests.kit.fixtures import BINANCE, load_binance

ACCOUNT_UPDATE_DOCS = "docs/ws_ACCOUNT_UPDATE.docs.json"
ACCOUNT_UPDATE_TRUNCATED = "real/ws_ACCOUNT_UPDATE_PARTIAL.real_mainnet_2026-05-21.TRUNCATED.txt"
ORDER_UPDATE_REAL = "real/ws_ORDER_TRADE_UPDATE_NEW.real_mainnet_2026-05-21.json"
ORDER_UPDATE_DOCS = "docs/ws_ORDER_TRADE_UPDATE.docs.json"
ALGO_UPDATES = (
    "real/ws_ALGO_UPDATE_TRIGGERING.nautilus_testnet_2025-12-11.json",
    "real/ws_ALGO_UPDATE_TRIGGERED.nautilus_testnet_2025-12-11.json",
    "real/ws_ALGO_UPDATE_FINISHED.nautilus_testnet_2025-12-11.json",
    "docs/ws_ALGO_UPDATE.docs.json",
)
LISTEN_KEY_EXPIRED_DOCS = "docs/ws_listenKeyExpired.docs.json"
IGNORED = (
    "docs/ws_MARGIN_CALL.docs.json",
    "docs/ws_ACCOUNT_CONFIG_UPDATE_leverage.docs.json",
    "docs/ws_ACCOUNT_CONFIG_UPDATE_multiassets.docs.json",
    "real/ws_TRADE_LITE.nautilus_recorded_2024-09-30.json",
)


def message(event: Any) -> str:
    """*event* as the stream sends it: compact JSON text."""
    return json.dumps(event, separators=(",", ":"))


def recorded(name: str) -> str:
    """The fixture at *name* as one stream message."""
    return message(load_binance(name))


def edited(name: str, edit: Callable[[dict], object]) -> str:
    """The fixture at *name*, changed by *edit*, as one stream message."""
    event = load_binance(name)
    edit(event)
    return message(event)


def payload_error(text: str) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        parse_user_event(text)
    return caught.value


# --- the events riskd acts on -----------------------------------------------------------------


def test_account_update_is_the_books_incomplete_stream_snapshot() -> None:
    event = parse_user_event(recorded(ACCOUNT_UPDATE_DOCS))
    assert event == parse_account_update(load_binance(ACCOUNT_UPDATE_DOCS))
    assert isinstance(event, SourceSnapshot)
    assert (event.source, event.complete, len(event.positions)) == (STREAM_SOURCE, False, 3)


@pytest.mark.parametrize("name", [ORDER_UPDATE_REAL, ORDER_UPDATE_DOCS])
def test_order_trade_update_is_an_order_update(name: str) -> None:
    event = parse_user_event(recorded(name))
    assert isinstance(event, OrderUpdate)
    assert event == parse_order_update(load_binance(name))


@pytest.mark.parametrize("name", ALGO_UPDATES)
def test_algo_update_is_an_algo_update(name: str) -> None:
    event = parse_user_event(recorded(name))
    assert isinstance(event, AlgoUpdate)
    assert event == parse_algo_update(load_binance(name))


def test_listen_key_expired_is_its_event_whatever_its_event_time() -> None:
    assert parse_user_event(recorded(LISTEN_KEY_EXPIRED_DOCS)) == ListenKeyExpired()  # E: string
    assert parse_user_event('{"e":"listenKeyExpired"}') == ListenKeyExpired()


@pytest.mark.parametrize("name", IGNORED)
def test_events_riskd_does_not_act_on_are_none(name: str) -> None:
    assert parse_user_event(recorded(name)) is None


def test_a_decimal_sent_as_a_json_number_keeps_its_exact_text() -> None:
    as_string, as_number = '"wb":"122624.12345678"', '"wb":122624.12345678'
    text = recorded(ACCOUNT_UPDATE_DOCS).replace(as_string, as_number)
    assert as_number in text
    event = parse_user_event(text)
    assert isinstance(event, SourceSnapshot) and event.balances is not None
    assert event.balances[0].wallet_balance == Decimal("122624.12345678")


@pytest.mark.parametrize("name", [ACCOUNT_UPDATE_DOCS, ORDER_UPDATE_REAL, ALGO_UPDATES[0]])
def test_events_survive_pickling_as_ray_sends_them(name: str) -> None:
    event = parse_user_event(recorded(name))
    assert pickle.loads(pickle.dumps(event)) == event


# --- bad input --------------------------------------------------------------------------------


def test_a_truncated_real_message_is_not_json() -> None:
    text = (BINANCE / ACCOUNT_UPDATE_TRUNCATED).read_text(encoding="utf-8")
    error = payload_error(text)
    assert (error.endpoint, error.path) == (USER_STREAM, "message")
    assert str(error) == f"user stream: message: not JSON ({len(text)} characters)"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "not JSON (0 characters)"),
        ("[]", "a list is not an object"),
        ("null", "null is not an object"),
        ('"ACCOUNT_UPDATE"', "a string is not an object"),
    ],
)
def test_a_message_that_is_no_json_object_is_refused(text: str, problem: str) -> None:
    assert str(payload_error(text)) == f"user stream: message: {problem}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"E":1}', "e: is missing"),
        ('{"e":5}', "e: an integer is not a non-empty string"),
        ('{"e":""}', "e: an empty string is not a non-empty string"),
    ],
)
def test_a_message_without_an_event_name_is_refused(text: str, problem: str) -> None:
    assert str(payload_error(text)) == f"user stream: {problem}"


@pytest.mark.parametrize(
    ("name", "edit", "expected"),
    [
        (
            ACCOUNT_UPDATE_DOCS,
            lambda event: event["a"]["P"][1].pop("pa"),
            "ACCOUNT_UPDATE: a.P[1].pa: is missing",
        ),
        (
            ORDER_UPDATE_REAL,
            lambda event: event["o"].update(X=None),
            "ORDER_TRADE_UPDATE: o.X: null is not a non-empty string",
        ),
        (
            ALGO_UPDATES[1],
            lambda event: event["o"].update(aid="1e15"),
            "ALGO_UPDATE: o.aid: a string is not an id",
        ),
        (
            ALGO_UPDATES[1],
            lambda event: event.pop("o"),
            "ALGO_UPDATE: o: is missing",
        ),
    ],
)
def test_a_bad_field_is_named_by_its_event_and_path(
    name: str, edit: Callable[[dict], object], expected: str
) -> None:
    assert str(payload_error(edited(name, edit))) == expected
