"""The gateway server: where it may bind, starting and stopping, the ban lists it is given."""

from __future__ import annotations

import json

import pytest

from riskd.core.secrets import SecretSources
from riskd.gateway.app import GatewayServer
from riskd.gateway.config import GatewayConfig
from tests.kit.gateway import FakeBackend, gateway_config, serving
from tests.kit.samples import banlist, lock


def test_a_host_other_than_loopback_is_refused_without_tokens() -> None:
    unloaded = GatewayConfig.model_validate(
        {"host": "0.0.0.0", "read_token_env": "READ", "operator_token_env": "OPERATOR"},
        context=SecretSources(secrets=frozenset()),  # the tokens are not loaded
    )
    with pytest.raises(ValueError, match="is not loopback and lacks the read or operator token"):
        GatewayServer(unloaded, ["main"], FakeBackend())


@pytest.mark.parametrize("missing", ["_read_token", "_operator_token"])
def test_a_host_other_than_loopback_is_refused_without_either_token(missing: str) -> None:
    config = gateway_config("r", "o", host="0.0.0.0")
    setattr(config, missing, None)  # as if only the other token had been loaded
    with pytest.raises(ValueError, match="lacks the read or operator token"):
        GatewayServer(config, ["main"], FakeBackend())


def test_a_host_other_than_loopback_is_taken_with_tokens() -> None:
    config = gateway_config("r", "o", host="0.0.0.0")
    assert GatewayServer(config, ["main"], FakeBackend()).config.host == "0.0.0.0"


async def test_a_gateway_without_accounts_does_not_start() -> None:
    server = GatewayServer(gateway_config(), [], FakeBackend())
    with pytest.raises(ValueError, match="accounts: a gateway serves at least one account"):
        await server.url()


async def test_the_server_starts_once_and_stops() -> None:
    async with serving() as gateway:
        assert await gateway.server.url() == gateway.url
        assert gateway.url.startswith("http://127.0.0.1:")
        assert "GET /v1/health" in await gateway.server.routes()
        await gateway.server.stop()
        with pytest.raises(OSError):
            await gateway.http.get(f"{gateway.url}/v1/health")


async def test_a_published_ban_list_is_served_as_the_ledger_encoded_it() -> None:
    sent = json.dumps(json.loads(banlist(2, lock()).to_json()), indent=1).encode()
    async with serving() as gateway:
        assert gateway.server.publish_banlist(sent)
        assert not gateway.server.publish_banlist(banlist(1).to_json())
        async with gateway.http.get(f"{gateway.url}/v1/banlist") as response:
            assert (response.status, await response.read()) == (200, sent)
