"""Which account a request names: one rule for every route."""

from __future__ import annotations

import pytest

from riskd.gateway.accounts import Accounts
from riskd.gateway.errors import Refused


def test_no_account_named_is_the_only_one() -> None:
    assert Accounts(("main",)).resolve(None) == "main"


def test_an_account_named_is_that_one() -> None:
    assert Accounts(("a", "b")).resolve("b") == "b"


@pytest.mark.parametrize(
    ("given", "status", "error"),
    [
        (None, 400, "account: required, this gateway serves several"),
        ("c", 404, "account: unknown account 'c'"),
        (["a"], 404, "account: unknown account ['a']"),
        ("a\x1b[2J", 404, "account: unknown account 'a\\x1b[2J'"),
    ],
)
def test_an_account_that_is_not_clear_is_refused_listing_them(
    given: object, status: int, error: str
) -> None:
    with pytest.raises(Refused) as refused:
        Accounts(("a", "b")).resolve(given)
    assert (refused.value.status, str(refused.value)) == (status, error)
    assert refused.value.extra == {"accounts": ("a", "b")}


def test_there_is_at_least_one_account() -> None:
    with pytest.raises(ValueError, match="accounts: a gateway serves at least one account"):
        Accounts(())
