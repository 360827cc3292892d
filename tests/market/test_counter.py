from __future__ import annotations

import random
from collections import Counter

import pytest

from riskd.market.counter import SymbolCounter

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT")


def test_take_hands_out_the_next_symbols_round_robin() -> None:
    counter = SymbolCounter(["A", "B", "C"])
    assert counter.take() == ["A"]
    assert counter.take(2) == ["B", "C"]
    assert counter.take(2) == ["A", "B"]
    assert counter.take() == ["C"]


def test_take_hands_out_each_symbol_at_most_once_per_call() -> None:
    counter = SymbolCounter(["A", "B", "C"])
    counter.take()
    assert counter.take(7) == ["B", "C", "A"]
    assert counter.take() == ["B"]


def test_take_of_nothing_and_bad_counts() -> None:
    counter = SymbolCounter(["A"])
    assert counter.take(0) == []
    assert counter.take() == ["A"]
    with pytest.raises(ValueError, match="count must not be negative, not -1"):
        counter.take(-1)


def test_an_empty_list_hands_out_nothing_and_never_raises() -> None:
    counter = SymbolCounter()
    assert counter.take(3) == []
    counter.set_symbols(["A", "B"])
    counter.take()
    counter.set_symbols([])
    assert counter.take() == []
    counter.set_symbols(["B", "A"])
    assert counter.take(2) == ["B", "A"]


@pytest.mark.parametrize("seed", range(20))
def test_takers_of_any_sizes_in_any_order_read_each_symbol_once_per_round(seed: int) -> None:
    rng = random.Random(seed)
    counter = SymbolCounter(SYMBOLS)
    rounds = rng.randint(1, 6)
    handed: list[str] = []
    while len(handed) < rounds * len(SYMBOLS):
        wanted = rng.randint(1, 3)  # readers that read one symbol, or a few, per pass
        handed += counter.take(min(wanted, rounds * len(SYMBOLS) - len(handed)))
    assert Counter(handed) == {symbol: rounds for symbol in SYMBOLS}


def test_set_symbols_continues_after_the_last_one_handed_out() -> None:
    counter = SymbolCounter(["A", "B", "C", "D"])
    assert counter.take(2) == ["A", "B"]
    counter.set_symbols(["D", "C", "B", "A"])
    assert counter.take(2) == ["A", "D"]


def test_set_symbols_continues_where_the_removed_last_symbol_would_have_led() -> None:
    counter = SymbolCounter(["A", "B", "C", "D"])
    counter.take(2)
    counter.set_symbols(["A", "C", "D"])  # B, the last handed out, is gone
    assert counter.take() == ["C"]

    counter = SymbolCounter(["A", "B", "C", "D"])
    counter.take(2)
    counter.set_symbols(["D", "A"])  # B and C are gone: D would have come next
    assert counter.take(2) == ["D", "A"]


def test_set_symbols_starts_over_when_nothing_it_knew_is_listed() -> None:
    counter = SymbolCounter(["A", "B"])
    counter.take()
    counter.set_symbols(["X", "Y"])
    assert counter.take() == ["X"]


def test_set_symbols_before_any_take_keeps_the_start() -> None:
    counter = SymbolCounter(["A", "B", "C"])
    counter.set_symbols(["C", "B", "A"])
    assert counter.take() == ["A"]  # the one that would have come first


def test_an_unchanged_list_keeps_the_round_going() -> None:
    counter = SymbolCounter(SYMBOLS)
    handed = counter.take(2)
    counter.set_symbols(SYMBOLS)
    handed += counter.take(3)
    assert handed == list(SYMBOLS)


def test_set_symbols_keeps_the_given_order_once_each() -> None:
    counter = SymbolCounter(["B", "A", "B", "C"])
    assert counter.symbols == ("B", "A", "C")
    assert counter.take(3) == ["B", "A", "C"]
