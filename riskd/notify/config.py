"""The ``[alerts]`` section: the Alerter's language, grouping, inhibition and receivers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr

from riskd.core.clock import DAY_MS
from riskd.core.frozen import FrozenModel
from riskd.core.secrets import (
    EnvVarName,
    Secret,
    SecretSources,
    invalid,
    not_loaded,
    secret_from_refs,
)
from riskd.notify.alerts import DEFAULT_INHIBIT_RULES, InhibitRule, RouteConfig
from riskd.notify.outbound import OutboundConfig


class FeishuConfig(FrozenModel):
    """Where alert cards go on Feishu: an app's chat (``mode = "app"``, through lark-oapi) or a
    custom bot's webhook (``mode = "webhook"``). The app secret, the webhook URL (it holds the
    bot's token) and the webhook's signing secret are secrets: ``*_env`` or ``*_file``."""

    mode: Literal["app", "webhook"]
    base_url: str = "https://open.feishu.cn"  # app mode; https://open.larksuite.com for Lark
    app_id: str | None = Field(None, pattern=r"^cli_[A-Za-z0-9]{4,64}$")
    app_secret_env: EnvVarName | None = None
    app_secret_file: Path | None = None
    chat_id: str | None = Field(None, pattern=r"^oc_[A-Za-z0-9]{4,64}$")
    webhook_url_env: EnvVarName | None = None
    webhook_url_file: Path | None = None
    webhook_secret_env: EnvVarName | None = None
    webhook_secret_file: Path | None = None
    timeout_ms: int = Field(10_000, gt=0)
    outbound: OutboundConfig = OutboundConfig()
    _app_secret: Secret | None = PrivateAttr(None)
    _webhook_url: Secret | None = PrivateAttr(None)
    _webhook_secret: Secret | None = PrivateAttr(None)

    @property
    def app_secret(self) -> Secret:
        if self._app_secret is None:
            raise not_loaded("feishu")
        return self._app_secret

    @property
    def webhook_url(self) -> Secret:
        if self._webhook_url is None:
            raise not_loaded("feishu")
        return self._webhook_url

    @property
    def webhook_secret(self) -> Secret | None:
        """The signing secret; None when the bot does not check signatures."""
        return self._webhook_secret

    def model_post_init(self, context: Any, /) -> None:
        sources = SecretSources.of(context)
        if self.mode == "app":
            if self.app_id is None or self.chat_id is None:
                raise invalid("mode app needs app_id and chat_id")
            if sources.wants("feishu"):
                self._app_secret = secret_from_refs(
                    "app_secret", self.app_secret_env, self.app_secret_file, sources
                )
            return
        if sources.wants("feishu"):
            self._webhook_url = secret_from_refs(
                "webhook_url", self.webhook_url_env, self.webhook_url_file, sources
            )
            if self.webhook_secret_env is not None or self.webhook_secret_file is not None:
                self._webhook_secret = secret_from_refs(
                    "webhook_secret", self.webhook_secret_env, self.webhook_secret_file, sources
                )


class AlertsConfig(FrozenModel):
    """The Alerter: card language, grouping and repeats (``route``), inhibition, and where
    cards go. Without ``[alerts.feishu]`` they go to the console; ``console = true`` sends
    them to the console as well."""

    language: Literal["zh", "en"] = "zh"
    route: RouteConfig = RouteConfig()
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT_RULES
    feishu: FeishuConfig | None = None
    console: bool | None = None  # None: only when there is no Feishu receiver
    tick_ms: int = Field(1_000, gt=0)
    heartbeat_interval_ms: int = Field(DAY_MS, ge=0)  # 0: no heartbeat card
    failing_after: int = Field(3, ge=1)  # failed sends in a row before FeishuFailing fires
    retention_ms: int = Field(30 * DAY_MS, gt=0)  # how long sent notifications are kept

    @property
    def to_console(self) -> bool:
        return self.feishu is None if self.console is None else self.console
