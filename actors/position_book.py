"""PositionBook actor: one per account, merging what the readers and the stream see."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Mapping

from actors.context import NamedActor, stop_ladder_name, trader_name
from riskd.core.clock import wall_ms
from riskd.positions import BookChanges, BookView, PositionBook, SourceSnapshot

# How long a disagreement or a change the stream missed stays in the book's health.
RECENT_PROBLEM_MS = 60_000


class PositionBookActor:
    """Holds an account's PositionBook (merge rules in ``riskd.positions``) and tells the
    account's StopLadder when a position opens, changes or closes.

    After a restart it starts empty and is refilled by the next pass of each reader: the
    exchange is the truth, and ``complete_and_fresh`` tells consumers when the book's silence
    about a position means it is flat.
    """

    def __init__(
        self,
        account: str,
        namespace: str,
        max_age_ms: Mapping[str, int],
        *,
        expects_stream: bool,
        trades: bool = False,
    ) -> None:
        self.account = account
        self.namespace = namespace
        self.max_age_ms = dict(max_age_ms)
        self.expects_stream = expects_stream
        self.book = PositionBook()
        self.disagreements: deque[tuple[int, str]] = deque(maxlen=20)
        self.stream_misses: deque[tuple[int, str]] = deque(maxlen=20)
        self.stop_ladder = NamedActor(stop_ladder_name(account), namespace)
        # The account's Trader, when robots trade on it, judges orders by these positions.
        self.trader = NamedActor(trader_name(account), namespace) if trades else None

    def apply(self, snapshot: SourceSnapshot) -> BookChanges:
        now = wall_ms()
        changes = self.book.apply(snapshot, received_at_ms=now)
        for key in changes.disagreements:
            self.disagreements.append(
                (now, f"{key[0]} {key[1]}: sources disagree ({snapshot.source})")
            )
        if self.expects_stream:
            self.stream_misses.extend(
                (
                    now,
                    f"{key[0]} {key[1]}: changed on the exchange, seen first by {snapshot.source}",
                )
                for key in changes.unstreamed
            )
        if changes.opened or changes.changed or changes.closed:
            self.stop_ladder.notify("on_positions")
            if self.trader is not None:
                self.trader.notify("on_positions")
        return changes

    def warm(self) -> None:
        """Start connecting to the StopLadder now, so the first position change reaches it at
        once. Never waits for the answer: this actor has one thread, and readers' snapshots
        must not queue behind a StopLadder that is still starting."""
        with contextlib.suppress(ValueError):  # a plan without a StopLadder
            self.stop_ladder.warm()

    def current(self) -> BookView:
        return self.book.view(wall_ms())

    def complete_and_fresh(self) -> bool:
        """Whether the book's silence about a position means it is flat (``riskd.positions``)."""
        return self.book.complete_and_fresh(wall_ms(), self.max_age_ms)

    def health(self) -> dict:
        """What the book cannot vouch for: silent sources, recent disagreements (for alerts)."""
        now = wall_ms()
        return {
            "account": self.account,
            "silent": list(self.book.silent_sources(now, self.max_age_ms)),
            "disagreements": _recent(self.disagreements, now),
            "stream_missed": _recent(self.stream_misses, now),
        }

    def view(self) -> dict:
        return {"account": self.account, **self.book.view(wall_ms()).to_dict()}


def _recent(problems: deque[tuple[int, str]], now_ms: int) -> list[str]:
    return [text for at_ms, text in problems if now_ms - at_ms < RECENT_PROBLEM_MS]
