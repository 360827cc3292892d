"""What can go wrong talking to Binance, as a small typed hierarchy.

Messages carry the endpoint, the HTTP status, Binance's code and at most a short Binance ``msg``,
all through :func:`safe_text`: never parameters, signatures, credentials or a response body.
"""

from __future__ import annotations

from typing import Final

from riskd.core.display import safe_text

MESSAGE_CHARS: Final = 120  # of a Binance msg


def http_detail(http_status: int, code: int | None, message: str = "") -> str:
    """``HTTP 400 code -2013: Order does not exist.`` from Binance's JSON error (its ``code``
    and ``msg``, made safe), or ``HTTP 502 without a Binance error body`` (*code* None)."""
    if code is None:
        return f"HTTP {http_status} without a Binance error body"
    text = f"HTTP {http_status} code {code}"
    return f"{text}: {safe_text(message, MESSAGE_CHARS)}" if message else text


class ExchangeError(Exception):
    """Base of every exchange-access error; ``endpoint`` is ``"GET /fapi/v2/account"``."""

    def __init__(self, endpoint: str, detail: str) -> None:
        detail = safe_text(detail)
        super().__init__(f"{endpoint}: {detail}")
        self.endpoint = endpoint
        self.detail = detail


class TransportError(ExchangeError):
    """The request did not complete (connect, reset, timeout) and was not answered."""


class MalformedResponse(ExchangeError):
    """Binance answered, but not with the JSON the endpoint promises (truncated, HTML, …)."""


class ServerError(ExchangeError):
    """HTTP 5xx other than "Unknown error" (gateway pages, maintenance); ``code`` and
    ``message`` are Binance's when the body was its JSON error."""

    def __init__(self, endpoint: str, http_status: int, code: int | None, message: str) -> None:
        super().__init__(endpoint, http_detail(http_status, code, message))
        self.http_status = http_status
        self.code = code


class StatusUnknown(ExchangeError):
    """A write may or may not have been executed (503 "Unknown error", 5xx, timeout).

    Resolve it by querying the client order id; never by sending the write again blindly.
    """


class Rejected(ExchangeError):
    """Binance refused the request with an error code (4xx); nothing was executed."""

    def __init__(self, endpoint: str, http_status: int, code: int, message: str) -> None:
        super().__init__(endpoint, http_detail(http_status, code, message))
        self.http_status = http_status
        self.code = code
        self.message = safe_text(message, MESSAGE_CHARS)


class RateLimited(ExchangeError):
    """HTTP 429 on ``ip``, or the IP is paused locally after one: wait ``retry_after_ms``."""

    def __init__(self, endpoint: str, ip: str, retry_after_ms: int) -> None:
        super().__init__(endpoint, f"IP {ip} is rate-limited for {retry_after_ms} ms")
        self.ip = ip
        self.retry_after_ms = retry_after_ms


class IpBanned(ExchangeError):
    """HTTP 418, or the IP is still banned locally: nothing may be sent before ``until_ms``."""

    def __init__(self, endpoint: str, ip: str, until_ms: int) -> None:
        super().__init__(endpoint, f"IP {ip} is banned until {until_ms}")
        self.ip = ip
        self.until_ms = until_ms
