"""FMZ symbols and order ids ↔ Binance USDⓈ-M symbols and order ids.

Symbols. FMZ names a pair ``BASE_QUOTE`` (``BTC_USDT``), and a futures contract
``BASE_QUOTE.<contract>`` (``BTC_USDT.swap``); the docker also sends lowercase
(``eth_usdt``). riskd trades USDⓈ-M perpetuals only, so the contract is ``swap`` or absent
(both name the perpetual), the quote one of :data:`QUOTES`, and Binance's symbol is
``BASEQUOTE`` (``BTCUSDT``). Letters are ASCII, folded to upper case; the contract's case is
not significant.

Order ids. The seed's example joins the exchange's instrument and order id with a comma
(``BTC-USDT,123456``). riskd's ids are ``BASE_QUOTE,<Binance orderId>`` (``BTC_USDT,123456``):
the symbol as FMZ spells it, without the contract, so the id of an order never depends on how
the robot spelled the symbol. :func:`parse_order_id` also takes the seed's dash
(``BTC-USDT,123456``), a ``.swap`` suffix, and a bare order id (a JSON number or a string of
digits), which leaves the symbol to the request's ``symbol`` field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from riskd.core.bodies import INT64_MAX, shown

QUOTES: Final = ("USDT", "USDC")
"""The quote (margin) assets of Binance's USDⓈ-M perpetuals."""
SWAP: Final = "swap"
"""FMZ's contract type of a perpetual, the only one riskd serves."""
MAX_SYMBOL_CHARS: Final = 20  # Binance's, as riskd.market.records.SYMBOL_PATTERN

_PAIR: Final = re.compile(r"([A-Z0-9]+)_([A-Z0-9]+)")
_ORDER_ID: Final = re.compile(r"[0-9]{1,19}")


class SymbolError(ValueError):
    """A symbol or order id riskd cannot read; the message names the field."""


@dataclass(frozen=True, slots=True)
class FmzSymbol:
    """A USDⓈ-M perpetual as FMZ names it; ``swap`` when it was spelled with ``.swap``."""

    base: str
    quote: str
    swap: bool = False

    @property
    def binance(self) -> str:
        """Binance's symbol: ``BTCUSDT``."""
        return f"{self.base}{self.quote}"

    @property
    def pair(self) -> str:
        """FMZ's pair, without the contract: ``BTC_USDT``."""
        return f"{self.base}_{self.quote}"

    @property
    def fmz(self) -> str:
        """The symbol as it was spelled (upper case): ``BTC_USDT`` or ``BTC_USDT.swap``."""
        return f"{self.pair}.{SWAP}" if self.swap else self.pair


@dataclass(frozen=True, slots=True)
class OrderRef:
    """One Binance order of one symbol: what an FMZ order id names."""

    symbol: FmzSymbol
    order_id: int

    @property
    def fmz_id(self) -> str:
        """The order's FMZ id: ``BTC_USDT,123456``."""
        return format_order_id(self.symbol, self.order_id)


def parse_symbol(value: object, field: str = "params.symbol") -> FmzSymbol:
    """*value* (``BTC_USDT``, ``BTC_USDT.swap``, ``eth_usdt``) as a perpetual riskd serves."""
    if not isinstance(value, str) or not value:
        raise SymbolError(f"{field}: must be a symbol like BTC_USDT, not {shown(value)}")
    if not value.isascii():
        raise SymbolError(f"{field}: must be ASCII letters and digits, not {shown(value)}")
    name, dot, contract = value.partition(".")
    if dot and contract.lower() != SWAP:
        raise SymbolError(
            f"{field}: contract {shown(contract)} is not served: riskd trades perpetuals "
            f"only (.{SWAP}), not {shown(value)}"
        )
    name = name.upper()
    if "_" not in name and name in QUOTES:
        raise SymbolError(
            f"{field}: {shown(value)} is incomplete: name the base and the quote currency, "
            "like BTC_USDT"
        )
    match = _PAIR.fullmatch(name)
    if match is None:
        raise SymbolError(
            f"{field}: must be BASE_QUOTE in letters and digits, like BTC_USDT, not {shown(value)}"
        )
    base, quote = match.groups()
    return _checked(FmzSymbol(base, quote, swap=bool(dot)), field, value)


def from_binance(symbol: str, *, swap: bool = False) -> FmzSymbol:
    """Binance's *symbol* (``BTCUSDT``) as FMZ names it, ``.swap`` added when *swap*."""
    for quote in QUOTES:
        base = symbol.removesuffix(quote)
        if base != symbol and _PAIR.fullmatch(f"{base}_{quote}"):
            return _checked(FmzSymbol(base, quote, swap=swap), "symbol", symbol)
    raise SymbolError(f"symbol: {shown(symbol)} is not a USDⓈ-M perpetual quoted in {_quotes()}")


def format_order_id(symbol: FmzSymbol, order_id: int) -> str:
    """riskd's FMZ order id: ``BTC_USDT,123456``."""
    return f"{symbol.pair},{order_id}"


def parse_order_id(value: object, field: str = "params.id") -> tuple[FmzSymbol | None, int]:
    """An FMZ order id: the symbol it names (None for a bare order id) and Binance's orderId.

    Takes ``BTC_USDT,123``, ``BTC_USDT.swap,123``, the seed's ``BTC-USDT,123``, and a bare id
    as a JSON number or a string of digits.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return None, _order_id(value, field, value)
    if not isinstance(value, str):
        raise SymbolError(f"{field}: must be an order id like BTC_USDT,123456, not {shown(value)}")
    name, comma, digits = value.rpartition(",")
    if not comma:
        return None, _order_id(_digits(digits), field, value)
    symbol = parse_symbol(name.replace("-", "_"), field)
    return symbol, _order_id(_digits(digits), field, value)


def _digits(text: str) -> int | None:
    return int(text) if _ORDER_ID.fullmatch(text) else None


def _order_id(number: int | None, field: str, value: object) -> int:
    if number is None or not 1 <= number <= INT64_MAX:
        raise SymbolError(
            f"{field}: must be an order id like BTC_USDT,123456 (the order a positive "
            f"integer), not {shown(value)}"
        )
    return number


def _checked(symbol: FmzSymbol, field: str, value: object) -> FmzSymbol:
    if symbol.quote not in QUOTES:
        raise SymbolError(
            f"{field}: unknown quote currency {shown(symbol.quote)} in {shown(value)}: "
            f"riskd trades perpetuals quoted in {_quotes()}"
        )
    if len(symbol.binance) > MAX_SYMBOL_CHARS:
        raise SymbolError(
            f"{field}: at most {MAX_SYMBOL_CHARS} letters and digits, not {shown(value)}"
        )
    return symbol


def _quotes() -> str:
    return " or ".join(QUOTES)
