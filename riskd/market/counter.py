"""The shared symbol counter: readers take the next symbols in turn, so together they read
every symbol once per round whatever order they come in."""

from __future__ import annotations

from collections.abc import Iterable


class SymbolCounter:
    """A list of symbols and the position of the next one to hand out."""

    def __init__(self, symbols: Iterable[str] = ()) -> None:
        self._symbols: tuple[str, ...] = ()
        self._next = 0
        self._last: str | None = None
        self.set_symbols(symbols)

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def take(self, count: int = 1) -> list[str]:
        """The next *count* symbols round-robin (at most one of each); [] if none are listed."""
        if count < 0:
            raise ValueError(f"count must not be negative, not {count}")
        size = len(self._symbols)
        taken = [self._symbols[(self._next + step) % size] for step in range(min(count, size))]
        if taken:
            self._next = (self._next + len(taken)) % size
            self._last = taken[-1]
        return taken

    def set_symbols(self, symbols: Iterable[str]) -> None:
        """Replace the list (order kept, duplicates dropped). The round continues after the
        last symbol handed out; if that one is gone, at the first symbol that would have come
        next and is still listed."""
        old, old_next = self._symbols, self._next
        self._symbols = tuple(dict.fromkeys(symbols))
        position = {symbol: index for index, symbol in enumerate(self._symbols)}
        if self._last in position:
            self._next = (position[self._last] + 1) % len(self._symbols)
            return
        upcoming = (old[(old_next + step) % len(old)] for step in range(len(old)))
        self._next = next((position[s] for s in upcoming if s in position), 0)
