"""The published ban list: a versioned snapshot of what strategies must not open, and its hub.

A :class:`BanList` is what the gateway serves and what clients hold. Every change, including a
later ``valid_until``, is a new version; versions only grow per account. Past ``valid_until`` riskd
no longer vouches for the snapshot and clients treat the account as banned (fail closed, see
``is_banned(when_expired_banned=...)``).

Wire format (compact JSON, keys in this order, times as epoch milliseconds)::

    {"account":"main","version":7,"generated_at":1700000000000,"valid_until":1700000030000,
     "state":"ACTIVE","all":false,"locks":[{"id":3,"symbol":"BTCUSDT","side":"both",
     "reason_code":"PNL_4H","reason_text":"...","source":"rule:pnl_4h",
     "created":1699999000000,"until":null,"robot":""}]}

A lock's ``robot`` names the one robot it bans (``""``: every robot). A client older than the
field bans every robot by such a lock: it errs on the safe side.

The gateway's :class:`riskd.gateway.hub.BanListHub` holds the latest snapshot per account.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, get_args
from urllib.parse import quote

from riskd.risk.locks import (
    ALL,
    LOCK_SIDES,
    Lock,
    LockSide,
    PositionSide,
    TradingState,
    is_banned,
)

_POSITION_SIDES: Final = get_args(PositionSide)
_STATES: Final = tuple(TradingState)


@dataclass(frozen=True, slots=True)
class BanListLock:
    """One active lock: ``symbol`` (or ``ALL``) may not be opened on ``side`` until ``until_ms``
    (``None``: until an operator unlocks it)."""

    id: int
    symbol: str
    side: LockSide
    reason_code: str
    reason_text: str
    source: str
    created_ms: int
    until_ms: int | None
    robot: str = ""  # the one robot banned; "": every robot of the account

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("symbol: must not be empty")
        if self.side not in LOCK_SIDES:
            raise ValueError(f"side: must be long, short or both, not {self.side!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "symbol": self.symbol,
            "side": self.side,
            "reason_code": self.reason_code,
            "reason_text": self.reason_text,
            "source": self.source,
            "created": self.created_ms,
            "until": self.until_ms,
            "robot": self.robot,
        }

    @classmethod
    def from_dict(cls, data: object, where: str) -> BanListLock:
        """Parse one wire lock; errors name the field as ``{where}.{field}``."""
        fields = _object(data, where)
        try:
            return cls(
                id=_int(fields, "id", where),
                symbol=_str(fields, "symbol", where),
                side=_str(fields, "side", where),  # type: ignore[arg-type]  # checked on init
                reason_code=_str(fields, "reason_code", where),
                reason_text=_str(fields, "reason_text", where),
                source=_str(fields, "source", where),
                created_ms=_int(fields, "created", where),
                until_ms=_optional_int(fields, "until", where),
                robot=_str(fields, "robot", where) if "robot" in fields else "",
            )
        except ValueError as error:
            if str(error).startswith(where):
                raise
            raise ValueError(f"{where}.{error}") from None


@dataclass(frozen=True, slots=True)
class BanList:
    """The ban list of one account at one version.

    ``state``: ACTIVE (locks apply), REDUCING (nothing may be opened), HALTED (nothing at all).
    ``all``: every symbol is banned. Unknown keys in the JSON are ignored so that older clients
    keep working when the gateway adds fields.
    """

    account: str
    version: int
    generated_at_ms: int
    valid_until_ms: int
    state: TradingState
    all: bool
    locks: tuple[BanListLock, ...]

    def __post_init__(self) -> None:
        if not self.account:
            raise ValueError("account: must not be empty")
        if self.version < 0:
            raise ValueError(f"version: must be >= 0, not {self.version}")
        if self.state not in _STATES:
            raise ValueError(f"state: must be ACTIVE, REDUCING or HALTED, not {self.state!r}")
        object.__setattr__(self, "state", TradingState(self.state))  # the JSON's str, typed

    @property
    def etag(self) -> str:
        """Strong ETag (quoted): the same for every encoding of this account's version."""
        return f'"{quote(self.account, safe="")}.{self.version}"'

    def expired(self, now_ms: int) -> bool:
        """Whether riskd no longer vouches for this snapshot at *now_ms*."""
        return now_ms >= self.valid_until_ms

    def is_banned(
        self,
        symbol: str,
        side: PositionSide,
        now_ms: int,
        *,
        robot: str | None = None,
        when_expired_banned: bool = True,
    ) -> bool:
        """Whether opening (or adding to) a *side* position on *symbol* is banned at *now_ms*,
        for *robot* if given (a lock of another robot does not ban it; without a robot only
        the account's locks count).

        Reducing a position is never banned by the list. An expired snapshot bans everything
        unless *when_expired_banned* is false, in which case its contents still decide.
        """
        if side not in _POSITION_SIDES:
            raise ValueError(f"side: must be long or short, not {side!r}")
        if when_expired_banned and self.expired(now_ms):
            return True
        if self.state is not TradingState.ACTIVE or self.all:
            return True
        return is_banned(self.locks, symbol, side, now_ms, robot)

    def to_json(self) -> bytes:
        """Compact JSON with a stable key order (see the module docstring)."""
        body = {
            "account": self.account,
            "version": self.version,
            "generated_at": self.generated_at_ms,
            "valid_until": self.valid_until_ms,
            "state": self.state,
            "all": self.all,
            "locks": [lock.to_dict() for lock in self.locks],
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> BanList:
        """Parse the wire format; a ValueError names the first bad field (``locks[2].side``)."""
        try:
            decoded = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"ban list: not JSON: {error}") from None
        fields = _object(decoded, "ban list")
        account = _str(fields, "account", None)
        version = _int(fields, "version", None)
        generated_at_ms = _int(fields, "generated_at", None)
        valid_until_ms = _int(fields, "valid_until", None)
        state = _str(fields, "state", None)
        all_symbols = fields.get("all", _MISSING)
        if not isinstance(all_symbols, bool):
            raise ValueError(f"all: must be true or false, not {_kind(all_symbols)}")
        raw_locks = fields.get("locks", _MISSING)
        if not isinstance(raw_locks, list):
            raise ValueError(f"locks: must be a list, not {_kind(raw_locks)}")
        return cls(
            account=account,
            version=version,
            generated_at_ms=generated_at_ms,
            valid_until_ms=valid_until_ms,
            state=state,  # type: ignore[arg-type]  # checked on init
            all=all_symbols,
            locks=tuple(
                BanListLock.from_dict(item, f"locks[{index}]")
                for index, item in enumerate(raw_locks)
            ),
        )


_MISSING: Final = object()


def _kind(value: object) -> str:
    if value is _MISSING:
        return "missing"
    return "null" if value is None else type(value).__name__


def _object(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: must be a JSON object, not {_kind(value)}")
    return value


def _name(key: str, where: str | None) -> str:
    return key if where is None else f"{where}.{key}"


def _str(fields: Mapping[str, object], key: str, where: str | None) -> str:
    value = fields.get(key, _MISSING)
    if not isinstance(value, str):
        raise ValueError(f"{_name(key, where)}: must be a string, not {_kind(value)}")
    return value


def _int(fields: Mapping[str, object], key: str, where: str | None) -> int:
    value = fields.get(key, _MISSING)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{_name(key, where)}: must be an integer, not {_kind(value)}")
    return value


def _optional_int(fields: Mapping[str, object], key: str, where: str) -> int | None:
    if fields.get(key, _MISSING) is None:
        return None
    return _int(fields, key, where)


def build_banlist(
    account: str,
    version: int,
    now_ms: int,
    valid_until_ms: int,
    state: TradingState,
    locks: Iterable[Lock],
) -> BanList:
    """The snapshot of an account's active locks; ``all`` when a lock covers every symbol
    and both sides."""
    published = tuple(
        BanListLock(
            id=lock.id,
            symbol=lock.symbol,
            side=lock.side,
            reason_code=lock.reason_code,
            reason_text=lock.reason_text,
            source=lock.source,
            created_ms=lock.created_ms,
            until_ms=lock.until_ms,
            robot=lock.robot,
        )
        for lock in sorted(locks, key=lambda lock: lock.id)
        if lock.active and (lock.until_ms is None or lock.until_ms > now_ms)
    )
    return BanList(
        account=account,
        version=version,
        generated_at_ms=now_ms,
        valid_until_ms=valid_until_ms,
        state=state,
        all=any(
            lock.symbol == ALL and lock.side == "both" and not lock.robot for lock in published
        ),
        locks=published,
    )


def next_valid_until_ms(now_ms: int, previous_ms: int, *, fresh: bool, validity_ms: int) -> int:
    """How long the next version is vouched for: pushed to now + *validity_ms* only while
    riskd's data is *fresh*; otherwise the previous end stands and the snapshot expires."""
    return max(previous_ms, now_ms + validity_ms) if fresh else previous_ms
