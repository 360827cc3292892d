"""GET /sapi/v1/account/apiRestrictions as Binance serves it, read by python-binance, and the
control API that changes what a key may do."""

from __future__ import annotations

import aiohttp
import pytest
from binance.exceptions import BinanceAPIException

from tests.kit.sim import binance_client

SAFE = {
    "ipRestrict": True,
    "enableReading": True,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "enableMargin": False,
    "enableFutures": True,
    "permitsUniversalTransfer": False,
    "enableVanillaOptions": False,
    "enableSpotAndMarginTrading": False,
    "enablePortfolioMarginTrading": False,
}
EXPIRY_MS = 1_790_000_000_000


async def _post(sim, body: object) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sim.url}/_sim/api_restrictions", json=body) as response,
    ):
        return response.status, await response.text()


async def test_a_default_key_is_safe_and_read_signed_in_binances_shape(sim, client) -> None:
    answer = await client.get_account_api_permissions()

    assert list(answer) == ["ipRestrict", "createTime", *list(SAFE)[1:]]
    assert answer == SAFE | {"createTime": answer["createTime"]}
    assert isinstance(answer["createTime"], int) and answer["createTime"] > 0


async def test_the_read_weighs_1_in_the_sapi_weight_header(sim, client) -> None:
    await client.get_account_api_permissions()

    headers = client.response.headers
    assert headers["X-SAPI-USED-IP-WEIGHT-1M"] == "1"
    assert "X-MBX-USED-WEIGHT-1M" not in headers
    assert sim.limiter.state()["ips"]["127.0.0.1"]["total_weight"] == 1


@pytest.mark.parametrize(
    ("api_key", "api_secret", "status", "code"),
    [("sim-key", "not-the-secret", 400, -1022), ("nobody", "sim-secret", 401, -2015)],
)
async def test_the_read_is_refused_as_every_signed_endpoint_refuses(
    sim, api_key: str, api_secret: str, status: int, code: int
) -> None:
    client = binance_client(sim, api_key=api_key, api_secret=api_secret)
    with pytest.raises(BinanceAPIException) as refused:
        await client.get_account_api_permissions()
    await client.close_connection()

    assert (refused.value.status_code, refused.value.code) == (status, code)


async def test_a_keys_restrictions_come_from_its_accounts_config(make_sim) -> None:
    desk = {
        "name": "desk",
        "api_key": "desk-key",
        "api_secret": "desk-secret",
        "api_restrictions": {
            "enable_withdrawals": True,
            "ip_restrict": False,
            "trading_authority_expiration_ms": EXPIRY_MS,
        },
    }
    sim = await make_sim(accounts=[desk])
    client = binance_client(sim, api_key="desk-key", api_secret="desk-secret")
    answer = await client.get_account_api_permissions()
    await client.close_connection()

    assert answer["enableWithdrawals"] and not answer["ipRestrict"]
    assert answer["tradingAuthorityExpirationTime"] == EXPIRY_MS


async def test_the_control_api_changes_a_key_naming_its_account_not_the_key(sim, client) -> None:
    status, text = await _post(sim, {"api_key": "sim-key", "enable_withdrawals": True})

    assert status == 200 and "sim-key" not in text
    answer = await client.get_account_api_permissions()
    assert answer == SAFE | {"enableWithdrawals": True, "createTime": answer["createTime"]}
    assert '"account":"sim"' in text and '"enableWithdrawals":true' in text


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"enable_withdrawals": True}, 400, "api_key must be the account's API key"),
        ({"api_key": 7}, 400, "api_key must be the account's API key"),
        ({"api_key": "nobody-key"}, 404, "api_key: no account has this key"),
        ({"api_key": "sim-key", "enable_withdrawals": "yes"}, 400, "enable_withdrawals: Input"),
        ({"api_key": "sim-key", "enable_teleport": True}, 400, "enable_teleport: Extra inputs"),
        (
            {"api_key": "sim-key", "trading_authority_expiration_ms": 0},
            400,
            "trading_authority_expiration_ms: Input should be greater than or equal to 1",
        ),
        ([1], 400, "body must be a JSON object"),
    ],
)
async def test_a_bad_change_is_refused_naming_the_field(
    sim, client, body: object, status: int, error: str
) -> None:
    answer = await _post(sim, body)

    assert answer[0] == status and error in answer[1]
    assert "nobody-key" not in answer[1]
    assert (await client.get_account_api_permissions())["enableWithdrawals"] is False
