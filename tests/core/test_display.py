"""Terminal text: untrusted strings made inert; times in UTC with what is left."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskd.core.display import (
    ERROR_CHARS,
    duration,
    plain,
    printable,
    printable_lines,
    safe_text,
    since,
    table,
    until,
)

NOON = 1_764_849_600_000  # 2025-12-04 12:00:00Z
# As python-binance 1.0.37 words an error whose body is not JSON: the signed URL included.
SIGNED_URL_ERROR = (
    "Invalid JSON error message from Binance: <bound method ClientResponse.text of "
    "<ClientResponse(http://127.0.0.1:8765/fapi/v2/account?recvWindow=5000&timestamp="
    "1796383915495&signature=cbd112503a9ab4296e) [503 Service Unavailable]>>"
)


def test_control_and_format_characters_are_shown_as_escapes() -> None:
    assert printable("ok\x1b[2J\x00\x7f") == "ok\\x1b[2J\\x00\\x7f"
    assert printable("BTC\u202eUSDT\u200b") == "BTC\\u202eUSDT\\u200b"


def test_letters_of_any_script_are_kept() -> None:
    assert printable("币安人生USDT — déjà") == "币安人生USDT — déjà"


def test_line_breaks_survive_only_where_the_table_puts_them() -> None:
    assert printable("a\nb") == "a\\x0ab"
    assert printable_lines("a\x1b\nb") == "a\\x1b\nb"


def test_an_end_shows_utc_and_the_time_left() -> None:
    assert until(NOON + 4 * 3_600_000, NOON) == "2025-12-04 16:00:00Z (in 4h 00m)"
    assert until(NOON - 1, NOON) == "2025-12-04 11:59:59Z (ended)"
    assert until(None, NOON) == "until unlocked"


def test_a_past_time_shows_utc_and_its_age() -> None:
    assert since(NOON - 1_200, NOON) == "2025-12-04 11:59:58Z (1.2s ago)"
    assert since(None, NOON) == "never"


def test_durations_use_the_two_largest_units() -> None:
    assert [duration(ms) for ms in (8_200, 750_000, 14_700_000, 2 * 86_400_000 + 3_600_000)] == [
        "8.2s",
        "12m 30s",
        "4h 05m",
        "2d 1h",
    ]


def test_a_table_pads_columns_and_escapes_every_cell() -> None:
    assert table(("id", "reason"), [(1, "a\x1bb"), (22, "c")]).splitlines() == [
        "id  reason",
        "1   a\\x1bb",
        "22  c",
    ]


def test_a_url_keeps_its_host_and_path_but_not_its_query() -> None:
    text = safe_text(SIGNED_URL_ERROR)
    assert "http://127.0.0.1:8765/fapi/v2/account?…" in text
    assert "signature" not in text and "timestamp" not in text and "cbd1125" not in text


def test_a_listen_key_in_a_stream_url_is_dropped() -> None:
    text = safe_text("WSServerHandshakeError: 'wss://fstream.binance.com/private/ws?listenKey=pq7'")
    assert text == "WSServerHandshakeError: 'wss://fstream.binance.com/private/ws?…'"


def test_control_characters_are_escaped() -> None:
    text = safe_text("line\nbreak \x1b[2Jclear \u202eevil\x00")
    assert text == "line\\x0abreak \\x1b[2Jclear \\u202eevil\\x00"


@pytest.mark.parametrize("text", ["x" * 1000, "\x07" * 1000, "x" * 299 + "\x07"])
def test_a_long_text_is_cut_short_and_marked(text: str) -> None:
    shown = safe_text(text)
    assert len(shown) == ERROR_CHARS and shown.endswith("…")


def test_a_text_within_the_limit_is_kept_whole() -> None:
    assert safe_text("x" * ERROR_CHARS) == "x" * ERROR_CHARS


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("-205.92000000", "-205.92"),
        ("100000.00000000", "100000"),
        ("-0.0", "0"),
        ("1E-8", "0.00000001"),
    ],
)
def test_a_decimal_reads_without_trailing_zeros_or_exponent(value: str, text: str) -> None:
    assert plain(Decimal(value)) == text
