"""What can go wrong talking to Binance, as a small typed hierarchy.

Messages carry the endpoint and Binance's code and text, never parameters or credentials.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """Base of every exchange-access error; ``endpoint`` is ``"GET /fapi/v2/account"``."""

    def __init__(self, endpoint: str, detail: str) -> None:
        super().__init__(f"{endpoint}: {detail}")
        self.endpoint = endpoint
        self.detail = detail


class TransportError(ExchangeError):
    """The request did not complete (connect, reset, timeout) and was not answered."""


class MalformedResponse(ExchangeError):
    """Binance answered, but not with the JSON the endpoint promises (truncated, HTML, …)."""


class ServerError(ExchangeError):
    """HTTP 5xx other than "Unknown error" (gateway pages, maintenance)."""

    def __init__(self, endpoint: str, http_status: int, detail: str) -> None:
        super().__init__(endpoint, f"HTTP {http_status}: {detail}")
        self.http_status = http_status


class StatusUnknown(ExchangeError):
    """A write may or may not have been executed (503 "Unknown error", 5xx, timeout).

    Resolve it by querying the client order id; never by sending the write again blindly.
    """


class Rejected(ExchangeError):
    """Binance refused the request with an error code (4xx); nothing was executed."""

    def __init__(self, endpoint: str, http_status: int, code: int, message: str) -> None:
        super().__init__(endpoint, f"HTTP {http_status} code {code}: {message}")
        self.http_status = http_status
        self.code = code
        self.message = message


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
