"""PositionBook actor: one per account, merging what the readers (and later the stream) see."""

from __future__ import annotations

from riskd.positions import BookChanges, PositionBook, SourceSnapshot

from riskd.exchange.clock import wall_ms


class PositionBookActor:
    """Holds an account's PositionBook; the merge rules are in ``riskd.positions``.

    After a restart it starts empty and is refilled by the next pass of each reader: the
    exchange is the truth, and its view reports per-source age until then.
    """

    def __init__(self, account: str) -> None:
        self.account = account
        self.book = PositionBook()

    def apply(self, snapshot: SourceSnapshot) -> BookChanges:
        return self.book.apply(snapshot, received_at_ms=wall_ms())

    def view(self) -> dict:
        return {"account": self.account, **self.book.view(wall_ms()).to_dict()}
