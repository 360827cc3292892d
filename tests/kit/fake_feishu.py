"""A fake Feishu open platform on 127.0.0.1 for receiver and Alerter tests.

It serves the three endpoints riskd uses, checks them the way Feishu does, records every
request, and injects faults on demand::

    async with FakeFeishu() as feishu:
        receiver = LarkAppReceiver(feishu.app_id, Secret(feishu.app_secret), feishu.chat_id,
                                   LarkAppConfig(base_url=feishu.url))
        feishu.fail_next(2)            # two 502s from the "gateway"
        ...
        assert feishu.delivered[0].card == card

Endpoints:
- ``POST /open-apis/auth/v3/tenant_access_token/internal``: checks app_id/app_secret (10003,
  10014) and issues ``t-…`` tokens that expire after ``token_ttl_s``.
- ``POST /open-apis/im/v1/messages?receive_id_type=chat_id``: checks the bearer token (99991661
  missing, 99991663 unknown/expired/revoked), the chat (230002), the card; dedups by ``uuid``.
- ``POST /open-apis/bot/v2/hook/{token}``: checks the hook token (19001), the timestamp (within
  an hour of ``wall_clock_s``) and signature (19021), the card.

Clocks are injectable (:class:`tests.kit.clock.ManualClock`) so rate windows and token expiry are
deterministic. ``now_s`` drives token expiry, rate windows and request times; ``wall_clock_s``
is what webhook timestamps are checked against.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Kind = Literal["token", "message", "hook"]
DELIVERY: frozenset[Kind] = frozenset({"message", "hook"})
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES_PATH = "/open-apis/im/v1/messages"
HOOK_PATH = "/open-apis/bot/v2/hook/{token}"
# What Feishu answers when a bot sends too fast.
RATE_LIMIT_CODES: dict[Kind, int] = {"message": 11232, "hook": 9499, "token": 99991400}
TIMESTAMP_TOLERANCE_S = 3600
HANG_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request as the fake saw it; ``body`` is the parsed JSON or None."""

    kind: Kind
    path: str
    at_s: float
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class Delivered:
    """A message Feishu would show: ``bot`` is the app id or the hook token."""

    kind: Kind
    bot: str
    chat_id: str | None
    uuid: str | None
    message_id: str
    card: dict[str, Any]

    @property
    def text(self) -> str:
        """Every string in the card, one per line: enough to assert on what a reader sees."""
        return "\n".join(_strings(self.card))


@dataclass(slots=True)
class _Fault:
    kinds: frozenset[Kind]
    remaining: int
    status: int = 0
    code: int = 0
    retry_after_s: int | None = None


@dataclass(slots=True)
class _Window:
    per_second: int
    per_minute: int
    times_s: dict[str, collections.deque[float]] = field(default_factory=dict)


class FakeFeishu:
    """The fake server; see the module docstring."""

    def __init__(
        self,
        *,
        app_id: str = "cli_fake_app",
        app_secret: str = "fake-app-secret-0123456789",
        chat_ids: Iterable[str] = ("oc_fake_chat",),
        hook_token: str = "fake-hook-token-0123456789",
        hook_secret: str | None = "fake-sign-secret-0123456789",
        token_ttl_s: int = 7200,
        now_s: Callable[[], float] = time.monotonic,
        wall_clock_s: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.chat_ids = tuple(chat_ids)
        self.hook_token = hook_token
        self.hook_secret = hook_secret
        self.token_ttl_s = token_ttl_s
        self.now_s = now_s
        self.wall_clock_s = wall_clock_s
        self.requests: list[Recorded] = []
        self.delivered: list[Delivered] = []
        self.token_fetches = 0
        self._tokens: dict[str, float] = {}  # token → expiry (now_s)
        self._by_uuid: dict[str, str] = {}  # uuid → message_id
        self._message_ids = itertools.count(1)
        self._failures: list[_Fault] = []
        self._outage: tuple[float, int, frozenset[Kind]] | None = None
        self._hangs: list[_Fault] = []
        self._rate_limits: list[_Fault] = []
        self._token_expiries: list[_Fault] = []
        self._bad_signatures: list[_Fault] = []
        self._window: _Window | None = None
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:port``: the ``base_url`` for the app receiver."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def chat_id(self) -> str:
        return self.chat_ids[0]

    @property
    def hook_url(self) -> str:
        """The custom bot's URL (it holds the hook token, as Feishu's does)."""
        return self.url + HOOK_PATH.format(token=self.hook_token)

    async def start(self) -> None:
        """Serve on a free port."""
        app = web.Application()
        app.router.add_post(TOKEN_PATH, self._handle_token)
        app.router.add_post(MESSAGES_PATH, self._handle_message)
        app.router.add_post(HOOK_PATH, self._handle_hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Release hanging requests and stop serving."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeFeishu:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- faults --------------------------------------------------------------------------------

    def fail_next(self, count: int, *, status: int = 502, kinds: Iterable[Kind] = DELIVERY) -> None:
        """The next ``count`` requests of ``kinds`` get an HTML error page with ``status``."""
        self._failures.append(_Fault(frozenset(kinds), count, status=status))

    def outage(
        self, duration_s: float, *, status: int = 503, kinds: Iterable[Kind] = DELIVERY
    ) -> None:
        """Every request of ``kinds`` gets ``status`` until ``now_s`` has moved ``duration_s``."""
        self._outage = (self.now_s() + duration_s, status, frozenset(kinds))

    def hang_next(self, count: int, *, kinds: Iterable[Kind] = DELIVERY) -> None:
        """The next ``count`` requests of ``kinds`` get no answer until the fake stops."""
        self._hangs.append(_Fault(frozenset(kinds), count))

    def rate_limit_next(
        self,
        count: int,
        *,
        code: int | None = None,
        retry_after_s: int | None = None,
        kinds: Iterable[Kind] = DELIVERY,
    ) -> None:
        """The next ``count`` requests of ``kinds`` are refused as too frequent (by default
        11232 for messages, 9499 for hooks), with a ``Retry-After`` header if given."""
        self._rate_limits.append(
            _Fault(frozenset(kinds), count, code=code or 0, retry_after_s=retry_after_s)
        )

    def expire_token_next(self, count: int) -> None:
        """The next ``count`` message sends get 99991663, and the token they carried is revoked."""
        self._token_expiries.append(_Fault(frozenset({"message"}), count))

    def bad_signature_next(self, count: int) -> None:
        """The next ``count`` hook posts get 19021 whatever their signature."""
        self._bad_signatures.append(_Fault(frozenset({"hook"}), count))

    def enforce_rate_limits(self, *, per_second: int = 5, per_minute: int = 100) -> None:
        """From now on, refuse (11232/9499) a bot's request beyond these rates, as Feishu does."""
        self._window = _Window(per_second, per_minute)

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far."""
        self._tokens.clear()

    # -- inspection ----------------------------------------------------------------------------

    def requests_of(self, kind: Kind) -> list[Recorded]:
        return [recorded for recorded in self.requests if recorded.kind == kind]

    def max_requests_in(self, kind: Kind, window_s: float) -> int:
        """The most requests of ``kind`` seen within any ``window_s`` seconds."""
        times_s = [recorded.at_s for recorded in self.requests_of(kind)]
        return max(
            (
                sum(1 for t in times_s[i:] if t < start + window_s)
                for i, start in enumerate(times_s)
            ),
            default=0,
        )

    def clear(self) -> None:
        """Forget recorded requests and deliveries (tokens and uuids are kept)."""
        self.requests.clear()
        self.delivered.clear()

    # -- handlers ------------------------------------------------------------------------------

    async def _handle_token(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record("token", request)
        if (fault := await self._transport_fault("token")) is not None:
            return fault
        body = recorded.body if isinstance(recorded.body, dict) else {}
        if body.get("app_id") != self.app_id:
            return _answer(10003, "invalid param", status=400)
        if body.get("app_secret") != self.app_secret:
            return _answer(10014, "app secret invalid", status=400)
        token = f"t-{secrets.token_hex(16)}"
        self._tokens[token] = self.now_s() + self.token_ttl_s
        self.token_fetches += 1
        return web.json_response(
            {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": self.token_ttl_s}
        )

    async def _handle_message(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record("message", request)
        if (fault := await self._transport_fault("message")) is not None:
            return fault
        authorization = request.headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ").strip()
        if not authorization.startswith("Bearer ") or not token:
            return _answer(99991661, "Missing access token for authorization", status=400)
        if self._tokens.get(token, float("-inf")) <= self.now_s():
            return _answer(99991663, "Invalid access token for authorization", status=400)
        if _take(self._token_expiries, "message"):
            del self._tokens[token]
            return _answer(99991663, "Invalid access token for authorization", status=400)
        if (limited := self._rate_limited("message", self.app_id)) is not None:
            return limited
        if request.query.get("receive_id_type") != "chat_id":
            return _answer(99992402, "field validation failed: receive_id_type", status=400)
        body = recorded.body if isinstance(recorded.body, dict) else {}
        chat_id = body.get("receive_id")
        if chat_id not in self.chat_ids:
            return _answer(230002, "Bot/User can NOT be out of the chat.", status=400)
        card = (
            _card_from_content(body.get("content"))
            if body.get("msg_type") == "interactive"
            else None
        )
        if card is None:
            return _answer(230001, "invalid message content", status=400)
        uuid = body.get("uuid")
        if uuid is not None and uuid in self._by_uuid:
            return _message_sent(self._by_uuid[uuid], chat_id)
        message_id = f"om_{next(self._message_ids)}"
        if uuid is not None:
            self._by_uuid[uuid] = message_id
        self.delivered.append(Delivered("message", self.app_id, chat_id, uuid, message_id, card))
        return _message_sent(message_id, chat_id)

    async def _handle_hook(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record("hook", request)
        if (fault := await self._transport_fault("hook")) is not None:
            return fault
        hook_token = request.match_info["token"]
        if hook_token != self.hook_token:
            return _answer(19001, "param invalid: incoming webhook access token invalid")
        body = recorded.body if isinstance(recorded.body, dict) else {}
        if _take(self._bad_signatures, "hook") or not self._signed(body):
            return _answer(
                19021, "sign match fail or timestamp is not within one hour from current time"
            )
        if (limited := self._rate_limited("hook", hook_token)) is not None:
            return limited
        card = body.get("card")
        if body.get("msg_type") != "interactive" or not isinstance(card, dict):
            return _answer(19002, "params error, msg_type need")
        message_id = f"om_{next(self._message_ids)}"
        self.delivered.append(Delivered("hook", hook_token, None, None, message_id, card))
        return _answer(0, "success")

    # -- helpers -------------------------------------------------------------------------------

    async def _record(self, kind: Kind, request: web.Request) -> Recorded:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        recorded = Recorded(kind, request.path_qs, self.now_s(), dict(request.headers), body)
        self.requests.append(recorded)
        return recorded

    async def _transport_fault(self, kind: Kind) -> web.StreamResponse | None:
        """Hangs, gateway errors and outages: what happens before Feishu reads the request."""
        if _take(self._hangs, kind):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), HANG_MAX_S)
            return _gateway_error(504)
        if (fault := _take(self._failures, kind)) is not None:
            return _gateway_error(fault.status)
        if self._outage is not None:
            until_s, status, kinds = self._outage
            if self.now_s() >= until_s:
                self._outage = None
            elif kind in kinds:
                return _gateway_error(status)
        if (fault := _take(self._rate_limits, kind)) is not None:
            return _too_frequent(kind, fault.code or RATE_LIMIT_CODES[kind], fault.retry_after_s)
        return None

    def _rate_limited(self, kind: Kind, bot: str) -> web.Response | None:
        window = self._window
        if window is None:
            return None
        now_s = self.now_s()
        times_s = window.times_s.setdefault(f"{kind}:{bot}", collections.deque())
        while times_s and times_s[0] <= now_s - 60:
            times_s.popleft()
        last_second = sum(1 for t in times_s if t > now_s - 1)
        if last_second >= window.per_second or len(times_s) >= window.per_minute:
            return _too_frequent(kind, RATE_LIMIT_CODES[kind], None)
        times_s.append(now_s)
        return None

    def _signed(self, body: dict[str, Any]) -> bool:
        if self.hook_secret is None:
            return True
        timestamp, signature = body.get("timestamp"), body.get("sign")
        if (
            not isinstance(timestamp, str)
            or not timestamp.isdigit()
            or not isinstance(signature, str)
        ):
            return False
        if abs(self.wall_clock_s() - int(timestamp)) > TIMESTAMP_TOLERANCE_S:
            return False
        key = f"{timestamp}\n{self.hook_secret}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        return hmac.compare_digest(expected, signature)


def _take(faults: list[_Fault], kind: Kind) -> _Fault | None:
    """Use up one of the first pending fault that applies to ``kind``."""
    for fault in faults:
        if kind in fault.kinds and fault.remaining > 0:
            fault.remaining -= 1
            return fault
    return None


def _answer(code: int, msg: str, *, status: int = 200) -> web.Response:
    return web.json_response({"code": code, "msg": msg, "data": {}}, status=status)


def _message_sent(message_id: str, chat_id: str) -> web.Response:
    return web.json_response(
        {
            "code": 0,
            "msg": "success",
            "data": {"message_id": message_id, "chat_id": chat_id, "msg_type": "interactive"},
        }
    )


def _too_frequent(kind: Kind, code: int, retry_after_s: int | None) -> web.Response:
    # Feishu's message service refuses with HTTP 400, its gateway with 429, custom bots with 200.
    status = {"message": 400, "token": 429, "hook": 200}[kind]
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return web.json_response(
        {"code": code, "msg": "request trigger frequency limit", "data": {}},
        status=status,
        headers=headers,
    )


def _gateway_error(status: int) -> web.Response:
    return web.Response(
        status=status,
        text=f"<html><body>{status} gateway error</body></html>",
        content_type="text/html",
    )


def _card_from_content(content: Any) -> dict[str, Any] | None:
    """An interactive message's ``content`` is the card as a JSON string."""
    if not isinstance(content, str):
        return None
    try:
        card = json.loads(content)
    except ValueError:
        return None
    return card if isinstance(card, dict) else None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
