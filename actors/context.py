"""What every actor of a deployment is given: the config as TOML text (never secrets)."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray import ObjectRef
from ray.actor import ActorHandle
from ray.exceptions import RayActorError

from riskd.config import RiskdConfig, load_config_text, read_config_text
from riskd.plan import JobKind, job_name

CONTROLLER_NAME = "controller"
GATEWAY_NAME = "gateway"
ALERTER_NAME = "alerter"
KLINE_STORE_NAME = "kline_store"
MARKET_HUB_NAME = "market_hub:hub"


def position_book_name(account: str) -> str:
    return f"position_book:{account}"


def stop_ladder_name(account: str) -> str:
    return job_name(JobKind.STOP_LADDER, account)


def ledger_name(account: str) -> str:
    return job_name(JobKind.LEDGER, account)


def trader_name(account: str) -> str:
    return job_name(JobKind.TRADER, account)


class PeerUnavailable(Exception):
    """An actor of the deployment cannot be called: it does not exist, or it died (while
    Ray restarts it, or as the deployment stops). One line: the actor's name and why."""


class NamedActor:
    """A named actor of the deployment that may not exist (yet, or any more): looked up on
    first use and again only after a call to it failed, so notifying it costs no lookup."""

    def __init__(self, name: str, namespace: str) -> None:
        self.name = name
        self.namespace = namespace
        self._handle: ActorHandle | None = None

    def warm(self) -> ObjectRef:
        """Look the actor up and make one round trip to it (await or ``ray.get`` the answer),
        so the first notify pays for neither: a first call sets up Ray's connection to the
        actor, which made the first event after start ~0.5 s slower than the next ones.
        ValueError if the actor does not exist."""
        self._handle = ray.get_actor(self.name, namespace=self.namespace)
        return self._handle.__ray_ready__.remote()

    def notify(self, method: str, *args: object) -> None:
        """Call *method* without waiting for it; nothing happens if the actor does not exist."""
        handle = self._handle
        if handle is None:
            try:
                handle = self._handle = ray.get_actor(self.name, namespace=self.namespace)
            except ValueError:
                return
        getattr(handle, method).remote(*args).future().add_done_callback(self._forget_on_error)

    async def call(self, method: str, *args: object) -> Any:
        """Call *method* and await its answer. PeerUnavailable if the actor does not exist
        or died (the next call looks it up again)."""
        try:
            if self._handle is None:
                self._handle = ray.get_actor(self.name, namespace=self.namespace)
        except ValueError:
            raise PeerUnavailable(f"{self.name} does not exist") from None
        try:
            return await getattr(self._handle, method).remote(*args)
        except RayActorError as exc:
            self._handle = None
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise PeerUnavailable(f"{self.name} is not running: {reason}") from None

    def _forget_on_error(self, done: Future) -> None:
        if done.exception() is not None:
            self._handle = None


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """The config file's text and folder. Secrets are named in it, never written, so it can
    travel to every node; each actor resolves the secrets it needs from its own node."""

    text: str
    name: str
    base_dir: str

    @classmethod
    def from_path(cls, path: Path) -> ConfigSource:
        """The config file at *path*; ConfigError if it cannot be read or is not private to
        its owner (``riskd.config.read_config_text``)."""
        return cls(read_config_text(path), str(path), str(path.resolve().parent))

    def load(self, secrets: Iterable[str] | None = None) -> RiskdConfig:
        """The config, resolving only the named owners' secrets (None: all of them)."""
        return load_config_text(self.text, self.name, Path(self.base_dir), secrets=secrets)
