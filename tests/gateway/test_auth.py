"""Bearer auth on every route the gateway serves: reads take the read or the operator token,
changes only the operator's; a kind of request without a token configured is open. The table's
gateway has no robots, so a channel's PUT takes the operator's token like any change; with
robots, it takes only a robot's (tests/gateway/test_channels.py), and a robot's token changes
nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from riskd.gateway.app import gateway_app
from riskd.gateway.auth import READS
from riskd.gateway.hub import BanListHub
from riskd.gateway.market_hub import MarketHub
from riskd.market.config import MarketConfig
from tests.kit.gateway import (
    JSON,
    OPERATOR,
    OPERATOR_TOKEN,
    READ_TOKEN,
    READER,
    FakeBackend,
    Served,
    as_robot,
    gateway_config,
    robot_tokens,
    serving,
    state_body,
)

TOKENS = gateway_config(READ_TOKEN, OPERATOR_TOKEN)
MARKET = MarketConfig()
APP = gateway_app(TOKENS, ["main"], FakeBackend(), BanListHub(), market=MarketHub(MARKET))
SERVED = sorted(
    (route.method, route.resource.canonical)
    for route in APP.router.routes()
    if route.resource is not None
)
PUBLIC = [("GET", "/"), ("GET", "/static/{name}")]  # the status page's files: no data
ROUTES = [route for route in SERVED if route not in PUBLIC]
ROBOT_WRITES = [("PUT", "/v1/channels/{id}")]
SEND_TOKEN = "Authorization: send 'Bearer <token>'"
CHANGES_NEED_THE_OPERATOR = "changes need the operator's token"


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[Served]:
    async with serving(config=TOKENS, market=MARKET) as served:
        yield served


async def test_the_routes_checked_are_the_routes_served(gateway: Served) -> None:
    served = await gateway.server.routes()
    assert served == [f"{method} {path}" for method, path in SERVED if method != "HEAD"]


@pytest.mark.parametrize("path", ["/", "/static/page.js"])
async def test_the_status_pages_files_take_no_token(gateway: Served, path: str) -> None:
    response = await gateway.http.get(gateway.url + path, headers={"Authorization": "Bearer x"})
    assert response.status == 200


async def _call(gateway: Served, method: str, path: str, headers: dict[str, str]) -> int:
    """The status of a request to route *path*, its ``{id}`` 1."""
    return (await gateway.call(method, path.replace("{id}", "1"), headers=headers))[0]


async def _refused(gateway: Served, method: str, path: str, headers: dict[str, str]) -> str:
    """The error of a request to route *path* that must be refused as unauthorized."""
    sent = path.replace("{id}", "1")
    status, response_headers, answer = await gateway.call(method, sent, headers=headers)
    assert status == 401
    assert response_headers["WWW-Authenticate"] == "Bearer"
    return "" if answer is None else answer["error"]  # HEAD: no body


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_request_without_a_token_is_401(gateway: Served, method: str, path: str) -> None:
    assert await _refused(gateway, method, path, {}) in ("", SEND_TOKEN)


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_wrong_token_is_401(gateway: Served, method: str, path: str) -> None:
    error = await _refused(gateway, method, path, {"Authorization": "Bearer wrong"})
    assert error in ("", "wrong bearer token")


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_the_read_token_reads_and_is_forbidden_to_change(
    gateway: Served, method: str, path: str
) -> None:
    if method in READS:
        assert await _call(gateway, method, path, READER) not in (401, 403)
    else:
        sent = path.replace("{id}", "1")
        status, _, answer = await gateway.call(method, sent, headers=READER)
        assert (status, answer) == (403, {"error": CHANGES_NEED_THE_OPERATOR})


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_the_operator_token_is_taken_everywhere(
    gateway: Served, method: str, path: str
) -> None:
    assert await _call(gateway, method, path, OPERATOR) not in (401, 403)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_the_scheme_is_taken_in_any_case(gateway: Served, scheme: str) -> None:
    headers = {"Authorization": f"{scheme} {READ_TOKEN}"}
    assert (await gateway.call("GET", "/v1/locks", headers=headers))[0] == 200


@pytest.mark.parametrize(
    ("authorization", "error"),
    [
        (READ_TOKEN, SEND_TOKEN),  # no scheme
        (f"Basic {READ_TOKEN}", SEND_TOKEN),
        ("Bearer ", SEND_TOKEN),
        (f"Bearer {READ_TOKEN}x", "wrong bearer token"),
        (f"Bearer {READ_TOKEN[:-1]}", "wrong bearer token"),
    ],
)
async def test_a_malformed_or_near_miss_authorization_is_401(
    gateway: Served, authorization: str, error: str
) -> None:
    headers = {"Authorization": authorization}
    assert await _refused(gateway, "GET", "/v1/locks", headers) == error


async def test_without_tokens_every_request_is_open() -> None:
    async with serving() as gateway:
        assert (await gateway.call("GET", "/v1/locks"))[0] == 200
        assert (await gateway.call("POST", "/v1/state", state_body(), JSON))[0] == 200


async def test_with_only_the_operator_token_reads_are_open_and_changes_need_it() -> None:
    async with serving(config=gateway_config(operator_token=OPERATOR_TOKEN)) as gateway:
        assert (await gateway.call("GET", "/v1/locks"))[0] == 200
        assert await _refused(gateway, "POST", "/v1/state", {}) == SEND_TOKEN
        assert (await gateway.call("POST", "/v1/state", state_body(), JSON | OPERATOR))[0] == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [route for route in ROUTES if route[0] not in READS and route not in ROBOT_WRITES],
)
async def test_a_robots_token_makes_no_other_change(method: str, path: str) -> None:
    async with serving(config=TOKENS, market=MARKET, robots=robot_tokens("alice")) as gateway:
        error = await _refused(gateway, method, path, as_robot("alice"))
    assert error == "wrong bearer token"


async def test_the_routes_robots_write_are_served() -> None:
    assert set(ROBOT_WRITES) <= set(ROUTES)
