"""Reading Feishu's answers: a success is HTTP 200 *and* JSON ``code`` 0; everything else maps
to a :class:`~riskd.notify.receiver.DeliveryError` that says whether a retry can help.

Shared by the app receiver (``lark_app``) and the custom-bot webhook receiver (``webhook``).
Nothing here may quote a URL, token or secret: only the receiver's name, the HTTP status,
Feishu's code and Feishu's ``msg``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from riskd.notify.receiver import DeliveryError

# 11232: message service frequency limit (5/s, 100/min per bot); 230020: per-chat limit;
# 9499: custom-bot "too many requests"; 99991400: open-platform gateway frequency limit.
RATE_LIMITED_CODES = frozenset({11232, 230020, 9499, 99991400})
# The tenant access token is missing, expired or revoked: a fresh token can succeed.
TOKEN_INVALID_CODES = frozenset({99991661, 99991663, 99991668})
FEISHU_MSG_MAX_CHARS = 200


@dataclass(frozen=True, slots=True)
class FeishuAnswer:
    """One HTTP answer from Feishu. ``code`` is None when the body carried none (or was not a
    JSON object); ``body`` is the parsed JSON object, empty if there was none."""

    status: int
    code: int | None
    msg: str
    retry_after_ms: int | None = None
    body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.code == 0


def read_answer(status: int, headers: Mapping[str, str], body: bytes) -> FeishuAnswer:
    """Parse an answer; accepts the legacy webhook fields ``StatusCode``/``StatusMessage``."""
    retry_after_ms = _retry_after_ms(headers)
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        parsed = None
    if not isinstance(parsed, dict):
        return FeishuAnswer(status, None, "the body is not a JSON object", retry_after_ms)
    code = parsed.get("code", parsed.get("StatusCode"))
    msg = parsed.get("msg", parsed.get("StatusMessage"))
    return FeishuAnswer(
        status,
        code if isinstance(code, int) else None,
        str(msg) if msg is not None else "",
        retry_after_ms,
        parsed,
    )


def delivery_error(receiver: str, answer: FeishuAnswer) -> DeliveryError:
    """The error for an answer that is not a success: rate limits, 5xx and stale tokens are
    retryable; anything else (bad signature, unknown chat, bad credentials) is not."""
    msg = answer.msg[:FEISHU_MSG_MAX_CHARS]
    detail = f"{receiver}: Feishu answered HTTP {answer.status}, code {answer.code}: {msg}"
    if answer.status == 429 or answer.code in RATE_LIMITED_CODES:
        return DeliveryError(
            f"{detail} (rate limited)", retryable=True, retry_after_ms=answer.retry_after_ms
        )
    if answer.status >= 500 or answer.code in TOKEN_INVALID_CODES:
        return DeliveryError(detail, retryable=True)
    return DeliveryError(detail, retryable=False)


def transport_error(receiver: str, exc: BaseException) -> DeliveryError:
    """A request that got no answer (timeout, refused, reset): retryable. Names only the
    exception's type, because transport errors may quote the URL."""
    return DeliveryError(
        f"{receiver}: no answer from Feishu ({type(exc).__name__})", retryable=True
    )


def _retry_after_ms(headers: Mapping[str, str]) -> int | None:
    """``Retry-After`` (seconds), else the gateway's ``x-ogw-ratelimit-reset`` (seconds)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    for name in ("retry-after", "x-ogw-ratelimit-reset"):
        try:
            seconds = float(lowered[name])
        except (KeyError, ValueError):
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return round(seconds * 1000)
    return None
