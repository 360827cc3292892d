"""A Feishu custom bot ("incoming webhook"): one signed POST per message.

lark-oapi does not cover custom bots, so this speaks HTTP itself with aiohttp. The hook URL
carries the bot's token, so it is a :class:`~riskd.core.secrets.Secret` like the signing secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from pydantic import Field

from riskd.core.frozen import FrozenModel
from riskd.core.secrets import Secret
from riskd.notify.feishu_codes import delivery_error, read_answer, transport_error
from riskd.notify.receiver import Message


class WebhookConfig(FrozenModel):
    """How long one delivery may take, end to end."""

    timeout_ms: int = Field(10_000, gt=0)


def _wall_clock_s() -> int:
    return int(time.time())


def sign(timestamp_s: int, secret: str) -> str:
    """Feishu's custom-bot signature: HMAC-SHA256 keyed by ``"{timestamp}\\n{secret}"`` over an
    empty message, base64-encoded."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class WebhookReceiver:
    """Posts each message's card to a custom bot; signs it when a secret is given.

    Feishu rejects a timestamp more than an hour away from its clock (code 19021), so ``now_s``
    must be close to real time.
    """

    def __init__(
        self,
        url: Secret,
        secret: Secret | None,
        config: WebhookConfig | None = None,
        *,
        name: str = "webhook",
        now_s: Callable[[], int] = _wall_clock_s,
    ) -> None:
        self.name = name
        self._url = url
        self._secret = secret
        self._config = config or WebhookConfig()
        self._now_s = now_s
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"WebhookReceiver(name={self.name!r}, signed={self._secret is not None})"

    def _body(self, message: Message) -> dict[str, Any]:
        body: dict[str, Any] = {"msg_type": "interactive", "card": message.card}
        if self._secret is not None:
            timestamp_s = self._now_s()
            body["timestamp"] = str(timestamp_s)
            body["sign"] = sign(timestamp_s, self._secret.reveal())
        return body

    async def send(self, message: Message) -> None:
        """Deliver one card; raises DeliveryError unless Feishu answers HTTP 200 with code 0."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._config.timeout_ms / 1000)
            )
        try:
            async with self._session.post(self._url.reveal(), json=self._body(message)) as reply:
                answer = read_answer(reply.status, reply.headers, await reply.read())
        except (aiohttp.ClientError, TimeoutError) as exc:
            # `from None`: aiohttp's errors may quote the URL, which holds the bot token.
            raise transport_error(self.name, exc) from None
        if not answer.ok:
            raise delivery_error(self.name, answer)

    async def close(self) -> None:
        """Close the HTTP session; a later send opens a new one."""
        if self._session is not None:
            await self._session.close()
            self._session = None
