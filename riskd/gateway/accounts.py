"""The accounts a gateway serves, and the one a request names: one rule for every route."""

from __future__ import annotations

from dataclasses import dataclass

from riskd.core.bodies import shown
from riskd.gateway.errors import Refused


@dataclass(frozen=True, slots=True)
class Accounts:
    """The names of the accounts a gateway serves (at least one)."""

    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.names:
            raise ValueError("accounts: a gateway serves at least one account")

    def resolve(self, given: object) -> str:
        """The account *given* names (a query's or a body's ``account``), or the only one
        when it is None. :class:`Refused`: 400 when several could be meant, 404 when it names
        none of them; either lists them."""
        if given is None:
            if len(self.names) == 1:
                return self.names[0]
            raise Refused(
                400, "account: required, this gateway serves several", accounts=self.names
            )
        if not isinstance(given, str) or given not in self.names:
            raise Refused(404, f"account: unknown account {shown(given)}", accounts=self.names)
        return given

    def of_change(self, query: str | None, body: object) -> str:
        """The account a change names: its JSON *body*'s ``account`` (null or left out: none
        named there), else the *query*'s, as :meth:`resolve` finds it; a query naming no
        account served is refused even when the body names one."""
        named = body.get("account") if isinstance(body, dict) else None
        if named is None:
            return self.resolve(query)
        if query is not None:
            self.resolve(query)
        return self.resolve(named)
