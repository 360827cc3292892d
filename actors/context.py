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

from riskd.config import RiskdConfig, load_config_text

CONTROLLER_NAME = "controller"
GATEWAY_NAME = "gateway"
ALERTER_NAME = "alerter"
KLINE_STORE_NAME = "kline_store"
MARKET_HUB_NAME = "market_hub:hub"


def position_book_name(account: str) -> str:
    return f"position_book:{account}"


def stop_ladder_name(account: str) -> str:
    return f"stop_ladder:{account}"


def ledger_name(account: str) -> str:
    return f"ledger:{account}"


def trader_name(account: str) -> str:
    return f"trader:{account}"


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
        """Call *method* and await its answer. ValueError if the actor does not exist;
        RayActorError if it died (the next call looks it up again)."""
        if self._handle is None:
            self._handle = ray.get_actor(self.name, namespace=self.namespace)
        try:
            return await getattr(self._handle, method).remote(*args)
        except RayActorError:
            self._handle = None
            raise

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
        return cls(path.read_text(encoding="utf-8"), str(path), str(path.resolve().parent))

    def load(self, secrets: Iterable[str] | None = None) -> RiskdConfig:
        """The config, resolving only the named owners' secrets (None: all of them)."""
        return load_config_text(self.text, self.name, Path(self.base_dir), secrets=secrets)
