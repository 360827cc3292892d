"""Exchange error texts: status, code and a short Binance msg, never the request or a body."""

from __future__ import annotations

import pytest

from riskd.exchange.errors import (
    ERROR_CHARS,
    MESSAGE_CHARS,
    ExchangeError,
    Rejected,
    ServerError,
    http_detail,
    safe_text,
)

# What python-binance 1.0.37 puts in its message for a non-JSON error body.
MANGLED = (
    "Invalid JSON error message from Binance: <bound method ClientResponse.text of "
    "<ClientResponse(http://127.0.0.1:8765/fapi/v2/account?recvWindow=5000&timestamp="
    "1796383915495&signature=cbd112503a9ab4296e) [503 Service Unavailable]>>"
)


def test_a_url_keeps_its_host_and_path_but_not_its_query() -> None:
    text = safe_text(MANGLED)
    assert "http://127.0.0.1:8765/fapi/v2/account?…" in text
    assert "signature" not in text and "timestamp" not in text and "cbd1125" not in text


def test_a_listen_key_in_a_stream_url_is_dropped() -> None:
    text = safe_text("WSServerHandshakeError: 'wss://fstream.binance.com/private/ws?listenKey=pq7'")
    assert text == "WSServerHandshakeError: 'wss://fstream.binance.com/private/ws?…'"


def test_control_characters_are_escaped() -> None:
    text = safe_text("line\nbreak \x1b[2Jclear \u202eevil\x00")
    assert text == "line\\nbreak \\x1b[2Jclear \\u202eevil\\x00"


@pytest.mark.parametrize("text", ["x" * 1000, "\x07" * 1000, "x" * 299 + "\x07"])
def test_a_long_text_is_cut_short_and_marked(text: str) -> None:
    shown = safe_text(text)
    assert len(shown) == ERROR_CHARS and shown.endswith("…")


def test_a_text_within_the_limit_is_kept_whole() -> None:
    assert safe_text("x" * ERROR_CHARS) == "x" * ERROR_CHARS


@pytest.mark.parametrize(
    ("args", "detail"),
    [
        ((400, -2013, "Order does not exist."), "HTTP 400 code -2013: Order does not exist."),
        ((503, -1001, ""), "HTTP 503 code -1001"),
        ((502, None), "HTTP 502 without a Binance error body"),
    ],
)
def test_http_detail_says_status_code_and_msg(args: tuple, detail: str) -> None:
    assert http_detail(*args) == detail


def test_a_rejection_keeps_a_short_safe_binance_msg() -> None:
    msg = "Parameter 'x' was bad\r\n" + "y" * 500
    rejected = Rejected("POST /fapi/v1/order", 400, -1102, msg)
    assert str(rejected).startswith("POST /fapi/v1/order: HTTP 400 code -1102: Parameter 'x'")
    assert "\r" not in str(rejected) and "was bad\\r\\n" in str(rejected)
    assert len(rejected.message) == MESSAGE_CHARS and rejected.message.endswith("…")


def test_a_server_error_without_binance_json_says_so() -> None:
    error = ServerError("GET /fapi/v2/account", 503, None, "")
    assert str(error) == "GET /fapi/v2/account: HTTP 503 without a Binance error body"
    assert (error.http_status, error.code) == (503, None)


def test_every_exchange_error_makes_its_detail_safe() -> None:
    error = ExchangeError("GET /fapi/v2/account", f"cannot connect: {MANGLED}")
    assert "signature" not in str(error) and "signature" not in error.detail
