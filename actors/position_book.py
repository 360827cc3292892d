"""PositionBook actor: one per account, merging what the readers and the stream see."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import ray

from actors.context import stop_ladder_name
from riskd.exchange.clock import wall_ms
from riskd.positions import BookChanges, BookView, PositionBook, SourceSnapshot

# Sources whose snapshots are complete: a fresh one of these makes the book trustworthy.
FULL_SOURCES = frozenset({"account", "position_risk"})


class PositionBookActor:
    """Holds an account's PositionBook (merge rules in ``riskd.positions``) and tells the
    account's StopLadder when a position opens, changes or closes.

    After a restart it starts empty and is refilled by the next pass of each reader: the
    exchange is the truth, and ``complete_since`` lets consumers wait for a full snapshot.
    """

    def __init__(self, account: str, namespace: str, max_age_ms: Mapping[str, int]) -> None:
        self.account = account
        self.namespace = namespace
        self.max_age_ms = dict(max_age_ms)
        self.book = PositionBook()
        self.disagreements: deque[tuple[int, str]] = deque(maxlen=20)

    def apply(self, snapshot: SourceSnapshot) -> BookChanges:
        now = wall_ms()
        changes = self.book.apply(snapshot, received_at_ms=now)
        for key in changes.disagreements:
            self.disagreements.append(
                (now, f"{key[0]} {key[1]}: sources disagree ({snapshot.source})")
            )
        if changes.opened or changes.changed or changes.closed:
            try:
                ladder = ray.get_actor(stop_ladder_name(self.account), namespace=self.namespace)
            except ValueError:
                pass  # no ladder in this deployment
            else:
                ladder.on_positions.remote()
        return changes

    def current(self) -> BookView:
        return self.book.view(wall_ms())

    def complete_since(self) -> int:
        """When the newest complete snapshot (account or positionRisk) arrived; 0 if never."""
        view = self.book.view(wall_ms())
        return max((s.received_at_ms for s in view.sources if s.source in FULL_SOURCES), default=0)

    def health(self) -> dict:
        """What the book cannot vouch for: silent sources, recent disagreements (for alerts)."""
        now = wall_ms()
        return {
            "account": self.account,
            "silent": list(self.book.silent_sources(now, self.max_age_ms)),
            "disagreements": [text for at, text in self.disagreements if now - at < 60_000],
        }

    def view(self) -> dict:
        return {"account": self.account, **self.book.view(wall_ms()).to_dict()}
