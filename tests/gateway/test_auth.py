"""Bearer auth's details: the scheme in any case, malformed and near-miss headers, and gateways
with fewer tokens, whose kind of request without a token configured is open. Every route with
every token is in tests/gateway/test_auth_matrix.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.kit.gateway import (
    JSON,
    OPERATOR,
    OPERATOR_TOKEN,
    READ_TOKEN,
    Served,
    gateway_config,
    serving,
    state_body,
)

TOKENS = gateway_config(READ_TOKEN, OPERATOR_TOKEN)
SEND_TOKEN = "Authorization: send 'Bearer <token>'"


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[Served]:
    async with serving(config=TOKENS) as served:
        yield served


async def _refused(gateway: Served, method: str, path: str, headers: dict[str, str]) -> str:
    """The error of a request that must be refused as unauthorized."""
    status, response_headers, answer = await gateway.call(method, path, headers=headers)
    assert status == 401
    assert response_headers["WWW-Authenticate"] == "Bearer"
    return answer["error"]


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
