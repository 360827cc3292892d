"""Exchange error texts: status, code and a short Binance msg, never the request or a body."""

from __future__ import annotations

import pytest

from riskd.exchange.errors import (
    MESSAGE_CHARS,
    ExchangeError,
    Rejected,
    ServerError,
    http_detail,
)

# What python-binance 1.0.37 puts in its message for a non-JSON error body.
MANGLED = (
    "Invalid JSON error message from Binance: <bound method ClientResponse.text of "
    "<ClientResponse(http://127.0.0.1:8765/fapi/v2/account?recvWindow=5000&timestamp="
    "1796383915495&signature=cbd112503a9ab4296e) [503 Service Unavailable]>>"
)


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
    assert "\r" not in str(rejected) and "was bad\\x0d\\x0a" in str(rejected)
    assert len(rejected.message) == MESSAGE_CHARS and rejected.message.endswith("…")


def test_a_server_error_without_binance_json_says_so() -> None:
    error = ServerError("GET /fapi/v2/account", 503, None, "")
    assert str(error) == "GET /fapi/v2/account: HTTP 503 without a Binance error body"
    assert (error.http_status, error.code) == (503, None)


def test_every_exchange_error_makes_its_detail_safe() -> None:
    error = ExchangeError("GET /fapi/v2/account", f"cannot connect: {MANGLED}")
    assert "signature" not in str(error) and "signature" not in error.detail
