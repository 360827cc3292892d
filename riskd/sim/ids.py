"""The ids the simulated exchange hands out, all drawn from one seeded generator."""

from __future__ import annotations

import random
import string

_ALPHABET = string.ascii_letters + string.digits


class IdSource:
    """orderId, algoId, tranId, trade ids, and random client order ids and listen keys.

    One generator serves them all, so a seed and a request sequence replay the same ids.
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._order_id = 4_000_000_000 + self._rng.randrange(10**8)
        self._algo_id = 1_000_000_000_000_000 + self._rng.randrange(10**9)
        # Above 2**53: clients that parse JSON numbers as doubles corrupt these ids.
        self._tran_id = 8_000_000_000_000_000_000 + self._rng.randrange(10**15)
        self._trade_id = 4_000_000_000 + self._rng.randrange(10**8)

    def order_id(self) -> int:
        self._order_id += 1
        return self._order_id

    def algo_id(self) -> int:
        self._algo_id += 1
        return self._algo_id

    def tran_id(self) -> int:
        self._tran_id += self._rng.randint(1, 1000)
        return self._tran_id

    def trade_id(self) -> int:
        self._trade_id += 1
        return self._trade_id

    @property
    def last_trade_id(self) -> int:
        return self._trade_id

    def random_id(self, length: int) -> str:
        """Letters and digits, as Binance's generated clientOrderIds and listen keys."""
        return "".join(self._rng.choice(_ALPHABET) for _ in range(length))
