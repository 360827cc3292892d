"""The gateway's auth matrix. Every route the app serves is in its OpenAPI document, and the
security the document gives it (public, read, operator, robot, or the robot's token in the body
as the FMZ protocol sends it) is what the gateway asks for: each route is sent no token, a
wrong one, the read token, the operator's and a robot's, and refuses them (401, 403, the FMZ
protocol's error) before any backend call, or takes them. A WebSocket is asked with its
handshake, the token in ``Authorization`` or, as browsers send it, as a subprotocol.

A new route cannot escape: the document must list exactly the app's routes, and every route
it lists needs a request in SAMPLES."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

import pytest
from aiohttp import WSServerHandshakeError
from yarl import URL

from riskd.gateway.app import gateway_app
from riskd.gateway.auth import WS_PROTOCOL
from riskd.gateway.hub import BanListHub
from riskd.gateway.market_hub import MarketHub
from riskd.gateway.openapi import openapi_document
from riskd.market.config import MarketConfig
from tests.kit.fmz import fmz_body
from tests.kit.gateway import (
    JSON,
    OPERATOR_TOKEN,
    READ_TOKEN,
    READER,
    FakeBackend,
    Served,
    as_robot,
    gateway_config,
    lock_body,
    robot_token,
    robot_tokens,
    serving,
    silence_body,
    state_body,
)

ACCOUNTS: Final = ("main",)
MARKET: Final = MarketConfig()
TOKENS: Final = gateway_config(READ_TOKEN, OPERATOR_TOKEN)
ROBOTS: Final = ("alice", "bob")
OPERATIONS: Final = frozenset({"get", "head", "put", "post", "delete", "patch", "options", "trace"})
SEND_TOKEN: Final = "Authorization: send 'Bearer <token>'"
WRONG_TOKEN: Final = "wrong bearer token"
NEEDS_THE_OPERATOR: Final = "changes need the operator's token"
NEEDS_A_ROBOT: Final = "this change needs a robot's token"


class Access(Enum):
    """Whose token a route takes, as its operation's ``security`` says."""

    PUBLIC = "public"
    READ = "read"
    OPERATOR = "operator"
    ROBOT = "robot"
    """A robot's token when robots are configured, else the operator's."""
    BODY = "body"
    """No bearer token: the body carries a robot's name and token (the FMZ protocol)."""


_BY_SCHEMES: Final = {
    frozenset({"readToken", "operatorToken"}): Access.READ,
    frozenset({"operatorToken"}): Access.OPERATOR,
    frozenset({"robotToken", "operatorToken"}): Access.ROBOT,
}


def access_of(operation: Mapping[str, Any]) -> Access:
    """The access an operation of the document gives: no scheme is public, or, for a request
    with a body, authenticated by that body."""
    schemes = frozenset(scheme for requirement in operation["security"] for scheme in requirement)
    if not schemes:
        return Access.BODY if "requestBody" in operation else Access.PUBLIC
    return _BY_SCHEMES[schemes]


@dataclass(frozen=True, slots=True)
class Route:
    """A route as the document lists it."""

    method: str
    path: str
    access: Access
    websocket: bool

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def documented_routes() -> list[Route]:
    """Every operation of the document of a gateway serving market data."""
    return [
        Route(method.upper(), path, access_of(operation), "101" in operation["responses"])
        for path, item in openapi_document(ACCOUNTS, MARKET)["paths"].items()
        for method, operation in item.items()
        if method in OPERATIONS
    ]


ROUTES: Final = documented_routes()
STREAMS: Final = [route for route in ROUTES if route.websocket]


@dataclass(frozen=True, slots=True)
class Sample:
    """A request the route answers once its token is right: the path sent (and query), the
    body, and the backend method it calls (None: it answers from the gateway's own hubs)."""

    target: str
    body: bytes | None = None
    backend: str | None = None


SAMPLES: Final = {
    ("GET", "/"): Sample("/"),
    ("GET", "/static/{name}"): Sample("/static/page.js"),
    ("GET", "/openapi.json"): Sample("/openapi.json"),
    ("GET", "/v1/health"): Sample("/v1/health", backend="health_rows"),
    ("GET", "/v1/positions"): Sample("/v1/positions", backend="positions"),
    ("GET", "/v1/positions/stream"): Sample("/v1/positions/stream"),
    ("GET", "/v1/locks"): Sample("/v1/locks", backend="locks"),
    ("POST", "/v1/locks"): Sample("/v1/locks", lock_body(), "add_lock"),
    ("DELETE", "/v1/locks/{id}"): Sample("/v1/locks/1?operator=al&reason=r", backend="unlock"),
    ("GET", "/v1/state"): Sample("/v1/state", backend="trading_state"),
    ("POST", "/v1/state"): Sample("/v1/state", state_body(), "set_trading_state"),
    ("GET", "/v1/alerts"): Sample("/v1/alerts", backend="alerts"),
    ("GET", "/v1/alerts/recent"): Sample("/v1/alerts/recent", backend="recent_alerts"),
    ("GET", "/v1/silences"): Sample("/v1/silences", backend="silences"),
    ("POST", "/v1/silences"): Sample("/v1/silences", silence_body(), "add_silence"),
    ("DELETE", "/v1/silences/{id}"): Sample("/v1/silences/1?operator=al", backend="expire_silence"),
    ("POST", "/v1/keys/check"): Sample("/v1/keys/check", backend="check_key"),
    ("GET", "/v1/banlist"): Sample("/v1/banlist"),
    ("GET", "/v1/banlist/stream"): Sample("/v1/banlist/stream"),
    ("GET", "/v1/market/klines"): Sample("/v1/market/klines?symbol=BTCUSDT&interval=1m"),
    ("GET", "/v1/market/ticker"): Sample("/v1/market/ticker?symbol=BTCUSDT"),
    ("GET", "/v1/market/mark"): Sample("/v1/market/mark?symbol=BTCUSDT"),
    ("GET", "/v1/market/stream"): Sample("/v1/market/stream?symbols=BTCUSDT"),
    ("GET", "/v1/market/stats"): Sample("/v1/market/stats"),
    ("PUT", "/v1/channels/{id}"): Sample("/v1/channels/grid", b'{"level": 3}'),
    ("GET", "/v1/channels/{id}"): Sample("/v1/channels/grid"),
    ("GET", "/v1/channels/{id}/stream"): Sample("/v1/channels/grid/stream"),
    ("POST", "/fmz/{label}"): Sample("/fmz/binance", backend="fmz"),  # the body: fmz_request
    ("GET", "/v1/orders"): Sample("/v1/orders", backend="orders"),
    ("GET", "/v1/orders/summary"): Sample("/v1/orders/summary", backend="order_summary"),
    ("GET", "/v1/pnl"): Sample("/v1/pnl", backend="pnl"),
    ("GET", "/v1/equity"): Sample("/v1/equity", backend="equity"),
    ("GET", "/v1/report/daily"): Sample("/v1/report/daily", backend="daily_report"),
    ("POST", "/v1/flatten"): Sample(
        "/v1/flatten", json.dumps({"operator": "al", "reason": "r"}).encode(), "flatten"
    ),
}


class Credential(Enum):
    """What a request carries: in ``Authorization``, or in the body of the FMZ protocol (a
    robot's token in alice's name)."""

    NONE = "no token"
    WRONG = "a wrong token"
    READ = "the read token"
    OPERATOR = "the operator's token"
    ROBOT = "robot alice's token"

    @property
    def token(self) -> str | None:
        return _TOKENS[self]

    def headers(self) -> dict[str, str]:
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}


_TOKENS: Final = {
    Credential.NONE: None,
    Credential.WRONG: "wrong-token",
    Credential.READ: READ_TOKEN,
    Credential.OPERATOR: OPERATOR_TOKEN,
    Credential.ROBOT: robot_token("alice"),
}


NOT_A_ROBOT: Final = "access_key and secret_key do not name a robot of riskd"
Refusal = tuple[int, str]
"""The status and the error refusing a request: 401 and 403, or the FMZ protocol's 200 whose
answer is the error."""
_GATEWAY_TOKENS: Final[dict[Credential, Refusal | None]] = {
    Credential.NONE: (401, SEND_TOKEN),
    Credential.WRONG: (401, WRONG_TOKEN),
    Credential.ROBOT: (401, WRONG_TOKEN),
}
_IN_BODY: Final[dict[Credential, Refusal | None]] = {
    Credential.NONE: (200, "secret_key: required"),
    Credential.WRONG: (200, NOT_A_ROBOT),
    Credential.READ: (200, NOT_A_ROBOT),
    Credential.OPERATOR: (200, NOT_A_ROBOT),
}
_ROBOTS_TOKENS: Final[dict[Credential, Refusal | None]] = {
    Credential.NONE: (401, SEND_TOKEN),
    Credential.WRONG: (401, WRONG_TOKEN),
    Credential.READ: (403, NEEDS_A_ROBOT),
    Credential.OPERATOR: (403, NEEDS_A_ROBOT),
    Credential.ROBOT: None,
}
_OPERATORS: Final = _GATEWAY_TOKENS | {
    Credential.READ: (403, NEEDS_THE_OPERATOR),
    Credential.OPERATOR: None,
}
EXPECTED: Final[dict[tuple[Access, bool], dict[Credential, Refusal | None]]] = {
    **{(Access.PUBLIC, robots): dict.fromkeys(Credential) for robots in (True, False)},
    **{(Access.READ, robots): _OPERATORS | {Credential.READ: None} for robots in (True, False)},
    **{(Access.OPERATOR, robots): _OPERATORS for robots in (True, False)},
    (Access.ROBOT, True): _ROBOTS_TOKENS,
    (Access.ROBOT, False): _OPERATORS,
    (Access.BODY, True): _IN_BODY | {Credential.ROBOT: None},
    (Access.BODY, False): _IN_BODY | {Credential.ROBOT: (200, NOT_A_ROBOT)},
}
"""How each credential is answered, per access and whether robots are configured: the
refusal, or None where it is taken."""


@asynccontextmanager
async def matrix_gateway(robots: bool) -> AsyncIterator[Served]:
    """A gateway with both tokens and market data on BTCUSDT and, if *robots*, robots alice
    and bob on account main."""
    names = ROBOTS if robots else ()
    async with serving(
        config=TOKENS,
        accounts=ACCOUNTS,
        market=MARKET,
        robots=robot_tokens(*names),
        robot_accounts=dict.fromkeys(names, "main"),
    ) as gateway:
        gateway.server.set_market_symbols(["BTCUSDT"])
        yield gateway


def fmz_request(credential: Credential, robot: str = "alice") -> bytes:
    """An FMZ request for *robot*'s account, *credential* its secret key."""
    return fmz_body("accounts", access_key=robot, secret_key=credential.token)


def subprotocol(token: str) -> str:
    """*token* offered as a browser offers it: ``bearer.<unpadded base64url>``."""
    return "bearer." + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def route_of(method: str, path: str) -> Route:
    return next(route for route in ROUTES if (route.method, route.path) == (method, path))


@dataclass(frozen=True, slots=True)
class Answer:
    """What the gateway answered: the body decoded when JSON; for an open WebSocket 101, the
    body its subprotocol."""

    status: int
    headers: Mapping[str, str]
    body: Any


async def ask(
    gateway: Served,
    route: Route,
    headers: Mapping[str, str],
    body: bytes | None = None,
    protocols: tuple[str, ...] = (),
) -> Answer:
    """*route*'s sample request with *headers* and *body* (else the sample's); a stream's
    handshake offering *protocols*."""
    sample = SAMPLES[(route.method, route.path)]
    if not route.websocket:
        url = URL(gateway.url + sample.target, encoded=True)
        sent = JSON | dict(headers)
        async with gateway.http.request(
            route.method, url, data=body or sample.body, headers=sent
        ) as response:
            raw = await response.read()
            json_body = response.content_type == "application/json" and raw
            return Answer(response.status, response.headers, json.loads(raw) if json_body else None)
    try:
        async with gateway.http.ws_connect(
            gateway.url + sample.target, headers=headers, protocols=protocols
        ) as socket:
            return Answer(101, {}, socket.protocol)
    except WSServerHandshakeError as refused:
        return Answer(refused.status, refused.headers or {}, None)


def called(gateway: Served) -> list[str]:
    """The backend's methods called, in order."""
    return [method for method, _ in gateway.backend.calls]


def assert_refused(gateway: Served, answer: Answer, refusal: Refusal) -> None:
    """*answer* is *refusal* (the error unseen for a WebSocket), and nothing reached the
    backend or the channels."""
    status, error = refusal
    assert answer.status == status
    if status == 401:
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    if answer.body is not None:
        assert answer.body == {"error": error}
    assert called(gateway) == []
    assert gateway.server.channels.latest("grid") is None


# ---- the routes and their security ----------------------------------------------------------


def test_the_document_lists_exactly_the_routes_the_app_serves() -> None:
    app = gateway_app(
        TOKENS,
        ACCOUNTS,
        FakeBackend(),
        BanListHub(),
        market=MarketHub(MARKET),
        robots=robot_tokens(*ROBOTS),
    )
    served = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}
    documented = {(route.method, route.path) for route in ROUTES}
    heads = {(method, path) for method, path in served if method == "HEAD"}
    assert served - heads - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"
    assert {("GET", path) for _, path in heads} <= documented  # aiohttp's HEAD of a GET


def test_every_documented_route_has_a_sample_request() -> None:
    assert set(SAMPLES) == {(route.method, route.path) for route in ROUTES}


def test_every_kind_of_access_is_in_the_matrix() -> None:
    assert {route.access for route in ROUTES} == set(Access)
    assert STREAMS
    # A route with a body and no scheme is taken to authenticate by its body: the FMZ one only.
    assert [str(route) for route in ROUTES if route.access is Access.BODY] == ["POST /fmz/{label}"]


# ---- each route, each credential ------------------------------------------------------------


# Every route on a gateway with robots; without robots, the routes robots' tokens open (the
# others answer alike, the robot's token being wrong there either way).
GATEWAYS: Final = [
    *(pytest.param(True, route, id=f"robots-{route}") for route in ROUTES),
    *(
        pytest.param(False, route, id=f"no robots-{route}")
        for route in ROUTES
        if route.access in (Access.ROBOT, Access.BODY)
    ),
]


@pytest.mark.parametrize("credential", list(Credential), ids=lambda c: c.value)
@pytest.mark.parametrize(("robots", "route"), GATEWAYS)
async def test_each_route_refuses_or_takes_each_credential_as_documented(
    robots: bool, route: Route, credential: Credential
) -> None:
    refusal = EXPECTED[(route.access, robots)][credential]
    async with matrix_gateway(robots) as gateway:
        if route.access is Access.BODY:
            answer = await ask(gateway, route, {}, fmz_request(credential))
        else:
            answer = await ask(gateway, route, credential.headers())
        if refusal is not None:
            assert_refused(gateway, answer, refusal)
            return
        assert answer.status not in (401, 403)
        assert answer.status == 101 or not route.websocket
        backend = SAMPLES[(route.method, route.path)].backend
        assert backend is None or route.websocket or backend in called(gateway)
        if route.access is Access.BODY:
            assert answer.body["data"]["robot"] == "alice"


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.method == "GET" and r.access is Access.READ], ids=str
)
async def test_a_head_request_is_a_read(route: Route) -> None:
    target = SAMPLES[(route.method, route.path)].target
    async with matrix_gateway(robots=True) as gateway:
        without, _, _ = await gateway.call("HEAD", target)
        robots, _, _ = await gateway.call("HEAD", target, headers=as_robot("alice"))
        reached = called(gateway)
        read, _, _ = await gateway.call("HEAD", target, headers=READER)
    assert (without, robots, reached) == (401, 401, [])
    assert read not in (401, 403)


# ---- robots' own resources ------------------------------------------------------------------


async def test_a_robots_token_on_another_robots_channel_is_403_and_changes_nothing() -> None:
    async with matrix_gateway(robots=True) as gateway:
        first, _, _ = await gateway.call("PUT", "/v1/channels/grid", b"1", JSON | as_robot("alice"))
        status, _, answer = await gateway.call(
            "PUT", "/v1/channels/grid", b"2", JSON | as_robot("bob")
        )
        channel = gateway.server.channels.latest("grid")
    assert (first, status) == (200, 403)
    assert answer == {"error": "channel 'grid' belongs to robot 'alice'"}
    assert channel is not None and (channel.owner, channel.version) == ("alice", 1)


async def test_a_robots_token_in_another_robots_name_reaches_no_account() -> None:
    async with matrix_gateway(robots=True) as gateway:
        fmz = route_of("POST", "/fmz/{label}")
        answer = await ask(gateway, fmz, {}, fmz_request(Credential.ROBOT, robot="bob"))
        assert (answer.body, called(gateway)) == ({"error": NOT_A_ROBOT}, [])


async def test_a_robots_token_reads_no_robots_orders() -> None:
    async with matrix_gateway(robots=True) as gateway:
        for robot in ROBOTS:
            status, _, answer = await gateway.call(
                "GET", f"/v1/orders?robot={robot}", headers=as_robot("alice")
            )
            assert (status, answer) == (401, {"error": WRONG_TOKEN})
        assert called(gateway) == []


# ---- browsers' WebSockets -------------------------------------------------------------------


@pytest.mark.parametrize("credential", list(Credential), ids=lambda c: c.value)
@pytest.mark.parametrize("route", STREAMS, ids=str)
async def test_a_stream_takes_the_token_a_browser_offers_as_a_subprotocol(
    route: Route, credential: Credential
) -> None:
    token = credential.token
    offered = (WS_PROTOCOL,) if token is None else (WS_PROTOCOL, subprotocol(token))
    refusal = EXPECTED[(route.access, True)][credential]
    async with matrix_gateway(robots=True) as gateway:
        answer = await ask(gateway, route, {}, protocols=offered)
        if refusal is not None:
            assert_refused(gateway, answer, refusal)
        else:
            assert (answer.status, answer.body) == (101, WS_PROTOCOL)


@pytest.mark.parametrize(
    ("headers", "offered", "status"),
    [
        ({}, "bearer.%%%", 401),
        ({"Authorization": "Bearer wrong-token"}, subprotocol(READ_TOKEN), 401),
        (READER, subprotocol("wrong-token"), 101),
    ],
    ids=["not base64url", "a wrong header wins", "a right header wins"],
)
async def test_the_authorization_header_wins_over_a_subprotocol(
    headers: dict[str, str], offered: str, status: int
) -> None:
    stream = route_of("GET", "/v1/banlist/stream")
    async with matrix_gateway(robots=True) as gateway:
        answer = await ask(gateway, stream, headers, protocols=(WS_PROTOCOL, offered))
    assert answer.status == status
