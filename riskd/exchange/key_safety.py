"""Is an account's API key safe for riskd to hold? Binance's answer to
``GET /sapi/v1/account/apiRestrictions``, parsed and judged. Pure: the time is passed in.

What riskd checks the key against is the seed's advice for a bot's key: allow only reading and
trading, bind the key to the server's IPs, never enable withdrawals. So:

- withdrawals enabled: **critical**, whoever obtains the key can move the funds off Binance;
- no IP restriction: **critical**, the key works from any address;
- reading disabled: **critical**, riskd cannot read the account (nor its positions);
- futures trading not enabled: **warning**, riskd cannot place or cancel stop-losses;
- ``tradingAuthorityExpirationTime``, when Binance reports it (it documents it as the end of the
  key's spot and margin trading permission): **info**, or a **warning** from
  EXPIRY_WARNING_MS before it and once it has passed;
- any other permission enabled (spot and margin trading, transfers, options …): **info**.

A key is ``safe`` with info findings only, ``warning`` with a warning, ``unsafe`` with a critical
finding, and ``unchecked`` until Binance has answered once. A check is due at start and then
CHECK_INTERVAL_MS after the last attempt, whether it worked or not: a failing read costs no
more weight (1 per hour) than a working one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from riskd.core.clock import DAY_MS, HOUR_MS
from riskd.core.display import safe_text, utc
from riskd.exchange.parse import PayloadError, _Object, _show

API_RESTRICTIONS_PATH: Final = "/sapi/v1/account/apiRestrictions"
API_RESTRICTIONS: Final = f"GET {API_RESTRICTIONS_PATH}"
CHECK_INTERVAL_MS: Final = HOUR_MS
"""How often an account's key is read: at start, then an hour after each attempt."""
EXPIRY_WARNING_MS: Final = 7 * DAY_MS
"""A trading authority that ends within this is a warning (a week to renew it)."""
_EXPIRY: Final = "tradingAuthorityExpirationTime"
# Permissions beyond reading and futures trading, as Binance names them and as riskd says them.
EXTRA_PERMISSIONS: Final[Mapping[str, str]] = {
    "enableSpotAndMarginTrading": "spot and margin trading",
    "enableMargin": "margin",
    "enableInternalTransfer": "internal transfer",
    "permitsUniversalTransfer": "universal transfer",
    "enableVanillaOptions": "options",
    "enablePortfolioMarginTrading": "portfolio margin trading",
}


@dataclass(frozen=True, slots=True)
class ApiRestrictions:
    """What Binance says the key may do: the fields riskd judges, and the names (as
    EXTRA_PERMISSIONS has them) of the other permissions it enables."""

    ip_restrict: bool
    enable_reading: bool
    enable_withdrawals: bool
    enable_futures: bool
    create_time_ms: int
    trading_authority_expiration_ms: int | None = None
    extra_permissions: tuple[str, ...] = ()


def parse_api_restrictions(body: object) -> ApiRestrictions:
    """The answer of ``GET /sapi/v1/account/apiRestrictions``. A field riskd judges that is
    missing or not a boolean (``createTime`` not a time) is a PayloadError naming it; fields
    riskd does not know are ignored. A ``tradingAuthorityExpirationTime`` left out, null or 0
    means Binance reports none."""
    if not isinstance(body, Mapping):
        raise PayloadError(API_RESTRICTIONS, "body", f"{_show(body)} is not an object")
    root = _Object(API_RESTRICTIONS, "", body)
    expiry = body.get(_EXPIRY)
    reported = expiry is not None and (isinstance(expiry, bool) or expiry != 0)
    return ApiRestrictions(
        ip_restrict=root.boolean("ipRestrict"),
        enable_reading=root.boolean("enableReading"),
        enable_withdrawals=root.boolean("enableWithdrawals"),
        enable_futures=root.boolean("enableFutures"),
        create_time_ms=root.time_ms("createTime"),
        trading_authority_expiration_ms=root.time_ms(_EXPIRY) if reported else None,
        extra_permissions=tuple(
            name for name in EXTRA_PERMISSIONS if root.boolean(name, required=False)
        ),
    )


class FindingSeverity(StrEnum):
    """How much a finding about a key matters."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class FindingCode(StrEnum):
    """What is found about a key."""

    WITHDRAWALS_ENABLED = "withdrawals_enabled"
    NO_IP_RESTRICTION = "no_ip_restriction"
    READING_DISABLED = "reading_disabled"
    FUTURES_DISABLED = "futures_disabled"
    TRADING_AUTHORITY_EXPIRES = "trading_authority_expires"
    EXTRA_PERMISSIONS = "extra_permissions"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found about a key, said in one line."""

    code: FindingCode
    severity: FindingSeverity
    text: str

    def to_dict(self) -> dict:
        return {"code": self.code.value, "severity": self.severity.value, "text": self.text}


def judge(
    restrictions: ApiRestrictions, now_ms: int, expiry_warning_ms: int = EXPIRY_WARNING_MS
) -> tuple[Finding, ...]:
    """The findings about a key with *restrictions*, most severe first (see the module)."""
    critical, warning, info = (
        FindingSeverity.CRITICAL,
        FindingSeverity.WARNING,
        FindingSeverity.INFO,
    )
    found: list[Finding] = []
    if restrictions.enable_withdrawals:
        text = "withdrawals are enabled: whoever has the key can move the funds off Binance"
        found.append(Finding(FindingCode.WITHDRAWALS_ENABLED, critical, text))
    if not restrictions.ip_restrict:
        text = "no IP restriction: the key works from any address"
        found.append(Finding(FindingCode.NO_IP_RESTRICTION, critical, text))
    if not restrictions.enable_reading:
        text = "reading is disabled: riskd cannot read the account"
        found.append(Finding(FindingCode.READING_DISABLED, critical, text))
    if not restrictions.enable_futures:
        text = "futures trading is not enabled: riskd cannot place or cancel stop-losses"
        found.append(Finding(FindingCode.FUTURES_DISABLED, warning, text))
    expiry_ms = restrictions.trading_authority_expiration_ms
    if expiry_ms is not None:
        verb = "ends" if expiry_ms > now_ms else "ended"
        severity = warning if expiry_ms - now_ms <= expiry_warning_ms else info
        text = f"the trading authority {verb} {utc(expiry_ms)}"
        found.append(Finding(FindingCode.TRADING_AUTHORITY_EXPIRES, severity, text))
    if restrictions.extra_permissions:
        names = ", ".join(EXTRA_PERMISSIONS[name] for name in restrictions.extra_permissions)
        text = f"enabled beyond reading and futures trading: {names}"
        found.append(Finding(FindingCode.EXTRA_PERMISSIONS, info, text))
    return tuple(found)


class KeyVerdict(StrEnum):
    """What riskd says of a key: by its most severe finding, or unchecked."""

    SAFE = "safe"
    WARNING = "warning"
    UNSAFE = "unsafe"
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """What riskd knows of an account's key: the findings of the last answer (read at
    ``checked_ms``, server time), the trading authority's end it reported, and when the last
    attempt was and why it failed (``error``; None when it worked)."""

    account: str
    findings: tuple[Finding, ...] = ()
    checked_ms: int | None = None
    trading_authority_expiration_ms: int | None = None
    attempted_ms: int | None = None
    error: str | None = None

    @property
    def verdict(self) -> KeyVerdict:
        if self.checked_ms is None:
            return KeyVerdict.UNCHECKED
        severities = {finding.severity for finding in self.findings}
        if FindingSeverity.CRITICAL in severities:
            return KeyVerdict.UNSAFE
        return KeyVerdict.WARNING if FindingSeverity.WARNING in severities else KeyVerdict.SAFE

    @property
    def ok(self) -> bool:
        """Safe, as of an attempt that worked: what ``riskd keys check`` exits 0 on."""
        return self.verdict is KeyVerdict.SAFE and self.error is None

    def due(self, now_ms: int, interval_ms: int = CHECK_INTERVAL_MS) -> bool:
        """Whether the key is to be read now: never tried, or last tried *interval_ms* ago."""
        return self.attempted_ms is None or now_ms - self.attempted_ms >= interval_ms

    def read(self, restrictions: ApiRestrictions, now_ms: int) -> KeyCheck:
        """The check after Binance answered *restrictions* at *now_ms*."""
        return replace(
            self,
            findings=judge(restrictions, now_ms),
            checked_ms=now_ms,
            trading_authority_expiration_ms=restrictions.trading_authority_expiration_ms,
            attempted_ms=now_ms,
            error=None,
        )

    def failed(self, error: str, now_ms: int) -> KeyCheck:
        """The check after an attempt at *now_ms* failed with *error*: what was known stays."""
        return replace(self, attempted_ms=now_ms, error=safe_text(error))

    def summary(self) -> str:
        """One line: the verdict and why (the findings above info, the failed attempt)."""
        if self.checked_ms is None:
            return f"unchecked: {self.error}" if self.error else "not checked yet"
        why = [f.text for f in self.findings if f.severity is not FindingSeverity.INFO]
        text = self.verdict.value + (f": {'; '.join(why)}" if why else "")
        return text + (f" (the last check failed: {self.error})" if self.error else "")

    def to_dict(self) -> dict:
        """As ``/v1/health``, ``POST /v1/keys/check`` and ``riskd keys check`` show it."""
        return {
            "account": self.account,
            "verdict": self.verdict.value,
            "ok": self.ok,
            "summary": self.summary(),
            "findings": [finding.to_dict() for finding in self.findings],
            "checked_ms": self.checked_ms,
            "trading_authority_expiration_ms": self.trading_authority_expiration_ms,
            "attempted_ms": self.attempted_ms,
            "error": self.error,
        }
