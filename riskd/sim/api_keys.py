"""What an account's API key may do: ``GET /sapi/v1/account/apiRestrictions`` in Binance's
shape, and changes to it through the control API (``POST /_sim/api_restrictions``)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from riskd.sim.accounts import Account
from riskd.sim.config import SimApiRestrictions


def api_restrictions(account: Account) -> dict:
    """GET /sapi/v1/account/apiRestrictions: Binance's fields in its order, the trading
    authority's end only when it has one."""
    key = account.api_restrictions
    body: dict[str, object] = {
        "ipRestrict": key.ip_restrict,
        "createTime": account.key_created_ms,
        "enableReading": key.enable_reading,
        "enableWithdrawals": key.enable_withdrawals,
        "enableInternalTransfer": key.enable_internal_transfer,
        "enableMargin": key.enable_margin,
        "enableFutures": key.enable_futures,
        "permitsUniversalTransfer": key.permits_universal_transfer,
        "enableVanillaOptions": key.enable_vanilla_options,
        "enableSpotAndMarginTrading": key.enable_spot_and_margin_trading,
        "enablePortfolioMarginTrading": key.enable_portfolio_margin_trading,
    }
    if key.trading_authority_expiration_ms is not None:
        body["tradingAuthorityExpirationTime"] = key.trading_authority_expiration_ms
    return body


def changed_restrictions(
    current: SimApiRestrictions, changes: Mapping[str, object]
) -> SimApiRestrictions:
    """*current* with *changes* (fields named as in ``[sim.accounts.api_restrictions]``);
    ValueError naming the first field that is unknown or not of its kind."""
    try:
        return SimApiRestrictions.model_validate({**current.model_dump(), **changes})
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in error["loc"])
        raise ValueError(f"{field}: {error['msg']}") from None
