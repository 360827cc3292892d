"""Request authentication as Binance does it: API key, HMAC-SHA256 signature, timestamp."""

from __future__ import annotations

import hashlib
import hmac
import re

from riskd.sim.errors import BinanceError, mandatory

_SIGNATURE = re.compile(r"(^|&)signature=([^&]*)")
_KEY_FORMAT = re.compile(r"^[\x21-\x7e]{1,128}$")
MAX_RECV_WINDOW_MS = 60_000
MAX_AHEAD_MS = 1_000


def invalid_key() -> BinanceError:
    return BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)


def check_api_key_format(api_key: str | None) -> str:
    if not api_key:
        raise invalid_key()
    if not _KEY_FORMAT.match(api_key):
        raise BinanceError(-2014, "API-key format invalid.", 401)
    return api_key


def split_signature(query: str, body: str) -> tuple[str, str | None]:
    """totalParams (query string concatenated with body) without the signature, and it."""
    signature = None
    parts = []
    for part in (query, body):
        match = _SIGNATURE.search(part)
        if match:
            signature = match.group(2)
            part = part[: match.start()] + part[match.end() :]
            if match.group(1) == "" and part.startswith("&"):
                part = part[1:]
        parts.append(part)
    return "".join(parts), signature


def verify_signature(secret: str, query: str, body: str) -> None:
    """Raise −1102 if the signature is missing, −1022 if it does not match."""
    payload, signature = split_signature(query, body)
    if not signature:
        raise mandatory("signature")
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise BinanceError(-1022, "Signature for this request is not valid.")


def check_timestamp(params: dict[str, str], server_ms: int) -> None:
    """Binance's recvWindow rule, with −1021 for stale or future timestamps."""
    raw_ts = params.get("timestamp", "")
    if not raw_ts.isdigit():
        raise mandatory("timestamp")
    raw_window = params.get("recvWindow") or "5000"
    if not raw_window.isdigit() or int(raw_window) > MAX_RECV_WINDOW_MS:
        raise BinanceError(-1131, "recvWindow must be less than 60000")
    timestamp = int(raw_ts)
    if timestamp > server_ms + MAX_AHEAD_MS:
        raise BinanceError(
            -1021, f"Timestamp for this request was {MAX_AHEAD_MS}ms ahead of the server's time."
        )
    if server_ms - timestamp > int(raw_window):
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
