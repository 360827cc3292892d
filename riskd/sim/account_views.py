"""GET account and positionRisk (v2, v3): margin and positions as Binance shows them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from riskd.sim.accounts import Account, Accounts, Margins
from riskd.sim.brackets import max_notional
from riskd.sim.market import EIGHT_PLACES, ZERO, Market, fixed, plain
from riskd.sim.matching import Matching
from riskd.sim.orders import Position
from riskd.sim.params import Params, opt


@dataclass(slots=True)
class _PositionFigures:
    mark: Decimal
    notional: Decimal
    upnl: Decimal
    im: Decimal
    maint: Decimal


class AccountViews:
    """Read-only renderings of accounts; zero positions are listed where Binance lists them."""

    def __init__(self, market: Market, accounts: Accounts, matching: Matching) -> None:
        self._market = market
        self._accounts = accounts
        self._matching = matching

    def account_v2(self, account: Account) -> dict:
        """GET /fapi/v2/account: every symbol and side, zero positions included."""
        positions = []
        for pos in self._all_positions(account):
            spec = self._market.specs[pos.symbol]
            n = self._figures(account, pos)
            positions.append(
                {
                    "symbol": pos.symbol,
                    "initialMargin": fixed(n.im, 8),
                    "maintMargin": fixed(n.maint, 8),
                    "unrealizedProfit": fixed(n.upnl, 8),
                    "positionInitialMargin": fixed(n.im, 8),
                    "openOrderInitialMargin": "0",
                    "leverage": str(self._accounts.leverage(account, pos.symbol)),
                    "isolated": pos.symbol in account.isolated,
                    "entryPrice": plain(pos.entry_price),
                    "maxNotional": self._max_notional(account, pos.symbol),
                    "bidNotional": "0",
                    "askNotional": "0",
                    "positionSide": pos.position_side,
                    "positionAmt": fixed(pos.amount, spec.quantity_precision),
                    "updateTime": pos.update_time_ms,
                }
            )
        margins = self._accounts.margins(account)
        return {
            "feeTier": 0,
            "feeBurn": False,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "tradeGroupId": -1,
            **self._totals(account, margins),
            "assets": [self._asset(account, margins, v2=True)],
            "positions": positions,
        }

    def account_v3(self, account: Account) -> dict:
        """GET /fapi/v3/account: open positions only."""
        positions = []
        for pos in self._all_positions(account):
            if not pos.amount:
                continue
            spec = self._market.specs[pos.symbol]
            n = self._figures(account, pos)
            positions.append(
                {
                    "symbol": pos.symbol,
                    "positionSide": pos.position_side,
                    "positionAmt": fixed(pos.amount, spec.quantity_precision),
                    "unrealizedProfit": fixed(n.upnl, 8),
                    "isolatedMargin": "0",
                    "notional": fixed(n.notional, 8),
                    "isolatedWallet": "0",
                    "initialMargin": fixed(n.im, 8),
                    "maintMargin": fixed(n.maint, 8),
                    "updateTime": pos.update_time_ms,
                }
            )
        margins = self._accounts.margins(account)
        return {
            **self._totals(account, margins),
            "assets": [self._asset(account, margins, v2=False)],
            "positions": positions,
        }

    def position_risk_v2(self, account: Account, params: Params) -> list:
        """GET /fapi/v2/positionRisk: every symbol and side, zero positions included."""
        spec = self._market.optional_spec(opt(params, "symbol"))
        rows = []
        for pos in self._all_positions(account):
            if spec is not None and pos.symbol != spec.symbol:
                continue
            pspec = self._market.specs[pos.symbol]
            n = self._figures(account, pos)
            rows.append(
                {
                    "symbol": pos.symbol,
                    "positionAmt": fixed(pos.amount, pspec.quantity_precision),
                    "entryPrice": plain(pos.entry_price),
                    "breakEvenPrice": plain(pos.break_even_price),
                    "markPrice": fixed(n.mark, 8),
                    "unRealizedProfit": fixed(n.upnl, 8),
                    "liquidationPrice": plain(
                        self._liquidation_price(account, pos).quantize(EIGHT_PLACES)
                    ),
                    "leverage": str(self._accounts.leverage(account, pos.symbol)),
                    "maxNotionalValue": self._max_notional(account, pos.symbol),
                    "marginType": "isolated" if pos.symbol in account.isolated else "cross",
                    "isolatedMargin": "0.00000000",
                    "isAutoAddMargin": "false",
                    "positionSide": pos.position_side,
                    "notional": plain(n.notional.quantize(EIGHT_PLACES)),
                    "isolatedWallet": "0",
                    "updateTime": pos.update_time_ms,
                }
            )
        return rows

    def position_risk_v3(self, account: Account, params: Params) -> list:
        """GET /fapi/v3/positionRisk: open positions, and flat ones with open orders."""
        spec = self._market.optional_spec(opt(params, "symbol"))
        with_orders = {o.symbol for o in self._matching.book(account).open_orders()}
        rows = []
        for pos in self._all_positions(account):
            if spec is not None and pos.symbol != spec.symbol:
                continue
            if not pos.amount and pos.symbol not in with_orders:
                continue
            pspec = self._market.specs[pos.symbol]
            n = self._figures(account, pos)
            rows.append(
                {
                    "symbol": pos.symbol,
                    "positionSide": pos.position_side,
                    "positionAmt": fixed(pos.amount, pspec.quantity_precision),
                    "entryPrice": plain(pos.entry_price),
                    "breakEvenPrice": plain(pos.break_even_price),
                    "markPrice": fixed(n.mark, 8),
                    "unRealizedProfit": fixed(n.upnl, 8),
                    "liquidationPrice": fixed(self._liquidation_price(account, pos), 8),
                    "isolatedMargin": "0",
                    "notional": fixed(n.notional, 8),
                    "marginAsset": "USDT",
                    "isolatedWallet": "0",
                    "initialMargin": fixed(n.im, 8),
                    "maintMargin": fixed(n.maint, 8),
                    "positionInitialMargin": fixed(n.im, 8),
                    "openOrderInitialMargin": "0",
                    "adl": 2 if pos.amount else 0,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "updateTime": pos.update_time_ms,
                }
            )
        return rows

    def _max_notional(self, account: Account, symbol: str) -> str:
        leverage = self._accounts.leverage(account, symbol)
        return plain(max_notional(self._market.specs[symbol], leverage))

    @staticmethod
    def _totals(account: Account, m: Margins) -> dict:
        return {
            "totalInitialMargin": fixed(m.initial, 8),
            "totalMaintMargin": fixed(m.maint, 8),
            "totalWalletBalance": fixed(account.wallet, 8),
            "totalUnrealizedProfit": fixed(m.upnl, 8),
            "totalMarginBalance": fixed(m.margin_balance, 8),
            "totalPositionInitialMargin": fixed(m.position_im, 8),
            "totalOpenOrderInitialMargin": fixed(m.order_im, 8),
            "totalCrossWalletBalance": fixed(account.wallet, 8),
            "totalCrossUnPnl": fixed(m.upnl, 8),
            "availableBalance": fixed(m.available, 8),
            "maxWithdrawAmount": fixed(min(account.wallet, m.available), 8),
        }

    @staticmethod
    def _asset(account: Account, m: Margins, *, v2: bool) -> dict:
        body = {
            "asset": "USDT",
            "walletBalance": fixed(account.wallet, 8),
            "unrealizedProfit": fixed(m.upnl, 8),
            "marginBalance": fixed(m.margin_balance, 8),
            "maintMargin": fixed(m.maint, 8),
            "initialMargin": fixed(m.initial, 8),
            "positionInitialMargin": fixed(m.position_im, 8),
            "openOrderInitialMargin": fixed(m.order_im, 8),
            "crossWalletBalance": fixed(account.wallet, 8),
            "crossUnPnl": fixed(m.upnl, 8),
            "availableBalance": fixed(m.available, 8),
            "maxWithdrawAmount": fixed(min(account.wallet, m.available), 8),
        }
        if v2:
            body["marginAvailable"] = True
        body["updateTime"] = account.wallet_update_ms
        return body

    def _all_positions(self, account: Account) -> list[Position]:
        """Every (symbol, side) in exchangeInfo order, zero positions included."""
        sides = ("LONG", "SHORT") if account.dual_side else ("BOTH",)
        return [
            account.positions.get((symbol, side)) or Position(symbol, side)
            for symbol in self._market.specs
            for side in sides
        ]

    def _figures(self, account: Account, pos: Position) -> _PositionFigures:
        mark = self._market.quotes[pos.symbol].mark
        notional = pos.amount * mark
        return _PositionFigures(
            mark=mark,
            notional=notional,
            upnl=pos.unrealized_pnl(mark),
            im=abs(notional) / self._accounts.leverage(account, pos.symbol),
            maint=abs(notional) * self._market.specs[pos.symbol].maint_margin_rate,
        )

    def _liquidation_price(self, account: Account, pos: Position) -> Decimal:
        """Cross-margin liquidation price of a single position (other positions held)."""
        if not pos.amount:
            return ZERO
        rate = self._market.specs[pos.symbol].maint_margin_rate
        others = sum(
            (
                p.unrealized_pnl(self._market.quotes[p.symbol].mark)
                for p in account.positions.values()
                if p is not pos
            ),
            ZERO,
        )
        wallet = account.wallet + others
        price = (wallet - pos.amount * pos.entry_price) / (rate * abs(pos.amount) - pos.amount)
        return max(ZERO, price)
