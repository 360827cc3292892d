"""Per-symbol account settings: leverage, margin type, and the brackets that bound them."""

from __future__ import annotations

from riskd.sim import errors as err
from riskd.sim.accounts import Account, Accounts
from riskd.sim.algo import AlgoService
from riskd.sim.brackets import max_notional, render_symbol
from riskd.sim.market import ZERO, plain
from riskd.sim.matching import Matching
from riskd.sim.params import Params, integer, opt, req
from riskd.sim.venue import Venue, VenuePart

MARGIN_TYPES = ("ISOLATED", "CROSSED")
SUCCESS = {"code": 200, "msg": "success"}


class AccountSettings(VenuePart):
    """POST leverage and marginType, GET leverageBracket.

    The simulator keeps cross-margin arithmetic for every symbol; ISOLATED is recorded and
    reported (positionRisk ``marginType``, account ``isolated``, ACCOUNT_UPDATE ``mt``).
    """

    def __init__(
        self, venue: Venue, accounts: Accounts, matching: Matching, algos: AlgoService
    ) -> None:
        super().__init__(venue)
        self._accounts = accounts
        self._matching = matching
        self._algos = algos

    def leverage_bracket(self, params: Params) -> dict | list:
        """GET /fapi/v1/leverageBracket: one object for a symbol, else a list of all."""
        spec = self._market.optional_spec(opt(params, "symbol"))
        if spec is not None:
            return render_symbol(spec)
        return [render_symbol(s) for s in self._market.specs.values()]

    def set_leverage(self, account: Account, params: Params) -> dict:
        """POST /fapi/v1/leverage: within the contract's brackets and the account's margin."""
        spec = self._market.spec(opt(params, "symbol"))
        req(params, "leverage")
        leverage = integer(params, "leverage", 0)
        if not 1 <= leverage <= spec.max_leverage:
            raise err.invalid_leverage(leverage)
        cap = max_notional(spec, leverage)
        notional = sum(
            (
                abs(p.amount) * self._market.quotes[spec.symbol].mark
                for p in account.positions.values()
                if p.symbol == spec.symbol
            ),
            ZERO,
        )
        if notional > cap:
            raise err.MAX_POSITION_AT_LEVERAGE
        previous = self._accounts.leverage(account, spec.symbol)
        account.leverage[spec.symbol] = leverage
        self._matching.recompute_order_margin(account)
        margins = self._accounts.margins(account)
        if leverage < previous and margins.margin_balance < margins.initial:
            account.leverage[spec.symbol] = previous
            self._matching.recompute_order_margin(account)
            raise err.LEVERAGE_MARGIN_INSUFFICIENT
        now = self._clock()
        self._emit(
            account.name,
            {
                "e": "ACCOUNT_CONFIG_UPDATE",
                "E": now,
                "T": now,
                "ac": {"s": spec.symbol, "l": leverage},
            },
        )
        return {"leverage": leverage, "maxNotionalValue": plain(cap), "symbol": spec.symbol}

    def set_margin_type(self, account: Account, params: Params) -> dict:
        """POST /fapi/v1/marginType: only with no position and no open order on the symbol."""
        spec = self._market.spec(opt(params, "symbol"))
        margin_type = req(params, "marginType")
        if margin_type not in MARGIN_TYPES:
            raise err.mandatory("marginType")
        if (margin_type == "ISOLATED") == (spec.symbol in account.isolated):
            raise err.NO_NEED_TO_CHANGE_MARGIN_TYPE
        if any(p.amount for p in account.positions.values() if p.symbol == spec.symbol):
            raise err.MARGIN_TYPE_WITH_POSITION
        if self._matching.book(account).open_orders(spec.symbol) or self._algos.book(
            account
        ).open_orders(spec.symbol):
            raise err.MARGIN_TYPE_WITH_ORDERS
        if margin_type == "ISOLATED":
            account.isolated.add(spec.symbol)
        else:
            account.isolated.discard(spec.symbol)
        return dict(SUCCESS)
