"""A Feishu app ("bot in a chat"): messages sent with lark-oapi's im/v1 message create.

Importing this module imports lark-oapi (~170 MB, seconds): only the Alerter imports it.

lark-oapi fetches the tenant access token with blocking ``requests`` calls, even inside its
async methods, unless the client is built with ``enable_set_token(True)`` and each call
carries the token in its ``RequestOption``. So this receiver fetches and caches the token
itself, in a worker thread, and hands it to every call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import lark_oapi as lark
import requests
from lark_oapi.api.auth.v3 import (
    InternalTenantAccessTokenRequest,
    InternalTenantAccessTokenRequestBody,
)
from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody
from pydantic import Field

from riskd.core.frozen import FrozenModel
from riskd.core.secrets import Secret
from riskd.notify.feishu_codes import (
    TOKEN_INVALID_CODES,
    FeishuAnswer,
    delivery_error,
    read_answer,
    transport_error,
)
from riskd.notify.receiver import DeliveryError, Message

log = logging.getLogger(__name__)

# Refresh the token this long before Feishu says it expires.
TOKEN_REFRESH_MARGIN_S = 300


class LarkAppConfig(FrozenModel):
    """Where the open platform is and how long one request may take."""

    base_url: str = "https://open.feishu.cn"
    timeout_ms: int = Field(10_000, gt=0)


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    refresh_at_s: float


class LarkAppReceiver:
    """Sends each message's card to one chat as an ``interactive`` message.

    The message's uuid goes to Feishu, which drops a repeat within an hour, so a retried
    message is shown once. A token Feishu rejects as expired or invalid is refreshed and the
    message sent once more.
    """

    def __init__(
        self,
        app_id: str,
        app_secret: Secret,
        chat_id: str,
        config: LarkAppConfig | None = None,
        *,
        name: str = "lark-app",
        now_s: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._app_id = app_id
        self._app_secret = app_secret
        self._chat_id = chat_id
        self._config = config or LarkAppConfig()
        self._now_s = now_s
        self._client = (
            lark.Client.builder()
            .app_id(app_id)
            .app_secret(app_secret.reveal())
            .domain(self._config.base_url)
            .timeout(self._config.timeout_ms / 1000)
            .enable_set_token(True)
            .build()
        )
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return (
            f"LarkAppReceiver(name={self.name!r}, app_id={self._app_id!r},"
            f" chat_id={self._chat_id!r})"
        )

    async def send(self, message: Message) -> None:
        """Deliver one card; raises DeliveryError unless Feishu answers HTTP 200 with code 0."""
        token = await self._current_token()
        answer = await self._create(message, token)
        if answer.code in TOKEN_INVALID_CODES:
            self._forget_token(token)
            answer = await self._create(message, await self._current_token())
        if not answer.ok:
            raise delivery_error(self.name, answer)

    async def close(self) -> None:
        """Nothing to release: lark-oapi opens an HTTP client per call."""

    async def _create(self, message: Message, token: str) -> FeishuAnswer:
        request = (
            CreateMessageRequest.builder()
            .receive_id_type("chat_id")
            .request_body(
                CreateMessageRequestBody.builder()
                .receive_id(self._chat_id)
                .msg_type("interactive")
                .content(json.dumps(message.card, ensure_ascii=False))
                .uuid(message.uuid)
                .build()
            )
            .build()
        )
        option = lark.RequestOption.builder().tenant_access_token(token).build()
        try:
            # `arequest` rather than `acreate`: acreate parses every body as JSON and loses the
            # HTTP status on a gateway's HTML error page.
            response = await self._client.arequest(request, option)
        except httpx.RequestError as exc:
            raise transport_error(self.name, exc) from None
        except ValueError:
            raise _malformed(self.name) from None
        raw = response.raw
        return read_answer(raw.status_code, raw.headers, raw.content)

    async def _current_token(self) -> str:
        async with self._token_lock:
            if self._token is None or self._now_s() >= self._token.refresh_at_s:
                self._token = await asyncio.to_thread(self._fetch_token)
                log.info("%s: fetched a tenant access token", self.name)
            return self._token.value

    def _forget_token(self, token: str) -> None:
        if self._token is not None and self._token.value == token:
            self._token = None

    def _fetch_token(self) -> _Token:
        """Blocking (lark-oapi uses ``requests``): run it in a worker thread."""
        source = f"{self.name} tenant token"
        request = (
            InternalTenantAccessTokenRequest.builder()
            .request_body(
                InternalTenantAccessTokenRequestBody.builder()
                .app_id(self._app_id)
                .app_secret(self._app_secret.reveal())
                .build()
            )
            .build()
        )
        try:
            response = self._client.request(request)
        except requests.RequestException as exc:
            raise transport_error(source, exc) from None
        except ValueError:
            raise _malformed(source) from None
        raw = response.raw
        answer = read_answer(raw.status_code, raw.headers, raw.content)
        if not answer.ok:
            raise delivery_error(source, answer)
        # The token and its lifetime are top-level fields (lark-oapi's typed response expects
        # them under `data`, where Feishu does not put them).
        value, expire_s = answer.body.get("tenant_access_token"), answer.body.get("expire")
        if not isinstance(value, str) or not value or not isinstance(expire_s, int):
            raise DeliveryError(
                f"{source}: Feishu's answer lacks tenant_access_token or expire", retryable=False
            )
        margin_s = min(TOKEN_REFRESH_MARGIN_S, expire_s // 2)
        return _Token(value, self._now_s() + expire_s - margin_s)


def _malformed(source: str) -> DeliveryError:
    return DeliveryError(f"{source}: Feishu answered with malformed JSON", retryable=False)
