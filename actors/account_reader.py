"""AccountReader: balances and positions from GET /fapi/v3/account into the PositionBook, and
what the account's API key may do (GET /sapi/v1/account/apiRestrictions)."""

from __future__ import annotations

import asyncio
import logging

from actors.base import Job
from actors.context import ConfigSource
from riskd.core.clock import wall_ms
from riskd.exchange.client import sapi_base_url
from riskd.exchange.errors import ExchangeError
from riskd.exchange.key_safety import API_RESTRICTIONS_PATH, KeyCheck, parse_api_restrictions
from riskd.exchange.parse import PayloadError, parse_account
from riskd.health import API_KEY
from riskd.notify.alerts import AlertEvent
from riskd.notify.events import api_key_alerts, still_firing
from riskd.plan import JobSpec
from riskd.store.errors import error_line

log = logging.getLogger(__name__)

NO_SAPI = "Binance's testnet serves no /sapi: the key's restrictions cannot be read there"


class AccountReader(Job):
    """Reads the account (weight 5) every interval; REST truth for balances and positions.

    It also reads what the account's key may do (weight 1): at start, then an hour after each
    attempt (``riskd.exchange.key_safety``), and whenever ``check_key`` asks. The read runs
    beside the passes, so a slow one never delays the account's; it is sent once, not
    retried, and a failure is kept in the check (and the health), not raised. ApiKeyUnsafe
    fires on every pass while the key, as last read, is not safe, and resolves once it is.
    """

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        super().__init__(spec, source)
        self.key = KeyCheck(spec.account)
        self._key_readable = sapi_base_url(self.config.exchange) is not None
        self._key_read: asyncio.Task[KeyCheck] | None = None
        self._key_firing: dict[str, AlertEvent] = {}
        self.health.extra[API_KEY] = self.key.to_dict()

    async def step(self) -> None:
        if self.key.due(self.clock.now_ms()):
            self._reading_key()
        self._report_key()
        taken_at = self.clock.now_ms()
        body = await self.access.read(
            "GET", "/fapi/v3/account", lambda: self.access.client.futures_account(version=3)
        )
        await self.position_book.apply.remote(parse_account(body, taken_at))

    async def check_key(self) -> dict:
        """Read what the key may do now (``POST /v1/keys/check``); the check
        (``KeyCheck.to_dict``). A read already under way is waited for, not repeated."""
        check = await asyncio.shield(self._reading_key())
        self._report_key()
        return check.to_dict()

    def _reading_key(self) -> asyncio.Task[KeyCheck]:
        """The read of the key's restrictions under way, or a new one."""
        if self._key_read is None or self._key_read.done():
            self._key_read = asyncio.get_running_loop().create_task(self._read_key())
        return self._key_read

    async def _read_key(self) -> KeyCheck:
        if not self._key_readable:
            self.key = self.key.failed(NO_SAPI, self.clock.now_ms())
        else:
            try:
                body = await self.access.read(
                    "GET",
                    API_RESTRICTIONS_PATH,
                    self.access.client.get_account_api_permissions,
                    once=True,
                )
                self.key = self.key.read(parse_api_restrictions(body), self.clock.now_ms())
            except (ExchangeError, PayloadError) as exc:
                self.key = self.key.failed(str(exc), self.clock.now_ms())
            except Exception as exc:  # a bug: kept in the check, as a failed pass keeps it
                log.exception("%s: reading the key's restrictions failed", self.spec.name)
                self.key = self.key.failed(error_line(exc), self.clock.now_ms())
        self.health.extra[API_KEY] = self.key.to_dict()
        return self.key

    def _report_key(self) -> None:
        """ApiKeyUnsafe while the key is not safe (again each time), its resolve once it is."""
        now_ms = wall_ms()
        events, self._key_firing = still_firing(
            api_key_alerts(self.key, now_ms), self._key_firing, now_ms
        )
        self.report(events)
