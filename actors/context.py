"""What every actor of a deployment is given: the config as TOML text (never secrets)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from riskd.config import RiskdConfig, load_config_text

CONTROLLER_NAME = "controller"
GATEWAY_NAME = "gateway"


def position_book_name(account: str) -> str:
    return f"position_book:{account}"


def stop_ladder_name(account: str) -> str:
    return f"stop_ladder:{account}"


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
