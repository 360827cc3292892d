"""Alert cards for Feishu and their plain-text twins, in Chinese or English.

A card is built only from whitelisted fields: the alert's name from the catalogue, the labels
and figures named in ``LABELS`` and ``FIGURES`` whose values match their pattern, and the
action from ``ACTIONS``. Anything else an event carries (a free-text detail, an unknown label,
a value that does not look like what its name says) never reaches a card, so a secret that
slipped into an event cannot leave riskd through an alert.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal

from riskd.notify.alerts import Alert, Notification, Severity
from riskd.notify.receiver import Message

Language = Literal["zh", "en"]

# The catalogue: alert name → (Chinese, English) title.
TITLES: Final[dict[str, tuple[str, str]]] = {
    "SymbolLocked": ("品种禁止开仓", "Symbol locked"),
    "AllLocked": ("全部品种禁止开仓", "All symbols locked"),
    "TradingState": ("交易状态变更", "Trading state changed"),
    "RateLimited": ("触发限频 429", "Rate limited (429)"),
    "IpBanned": ("IP 被封禁 418", "IP banned (418)"),
    "StopLadderFailed": ("止损挂单失败", "Stop ladder failed"),
    "MarketReduce": ("市价减仓 (-2021)", "Reduced at market (−2021)"),
    "SourceStale": ("数据源停滞", "Data source stale"),
    "SourceDisagree": ("数据源不一致", "Data sources disagree"),
    "StreamMissed": ("用户数据流漏报", "User stream missed a change"),
    "JobUnhealthy": ("任务异常", "Job unhealthy"),
    "ActorRestarted": ("任务重启", "Job restarted"),
    "DatabaseError": ("数据库错误", "Database error"),
    "MarketStreamSilent": ("行情流静默", "Market stream silent"),
    "OrderRefused": ("下单被风控拒绝", "Order refused by the gate"),
    "FlattenStarted": ("紧急平仓开始", "Flatten started"),
    "FlattenFinished": ("紧急平仓完成", "Flatten finished flat"),
    "FlattenIncomplete": ("紧急平仓未完成", "Flatten incomplete"),
    "FeishuFailing": ("飞书发送失败", "Feishu delivery failing"),
    "AlerterHeartbeat": ("告警心跳", "Alerter heartbeat"),
    "RiskdStarted": ("riskd 已启动", "riskd started"),
    "RiskdStopped": ("riskd 已停止", "riskd stopped"),
    "DailySummary": ("每日交易汇总", "Daily summary"),
    "ApiKeyUnsafe": ("API 密钥权限不安全", "API key unsafe"),
}

_NAME: Final = r"[A-Za-z0-9_-]{1,32}"
# Shown labels, in this order: name → (Chinese, English, the pattern a value must match).
LABELS: Final[dict[str, tuple[str, str, re.Pattern[str]]]] = {
    "account": ("账户", "Account", re.compile(_NAME)),
    "symbol": ("品种", "Symbol", re.compile(r"[A-Z0-9]{2,20}")),
    "side": ("方向", "Side", re.compile(r"long|short|both")),
    "state": ("状态", "State", re.compile(r"ACTIVE|REDUCING|HALTED")),
    "ip": ("IP", "IP", re.compile(r"[0-9a-fA-F.:]{3,45}")),
    "job": ("任务", "Job", re.compile(rf"[a-z_]{{1,32}}(:{_NAME})?")),
    "source": ("来源", "Source", re.compile(rf"[a-z_]{{1,32}}|(rule|operator):{_NAME}")),
    "receiver": ("接收方", "Receiver", re.compile(r"[a-z_-]{1,32}")),
    "robot": ("机器人", "Robot", re.compile(r"[A-Za-z0-9_-]{1,16}")),
    "day": ("日期", "Day", re.compile(r"\d{4}-\d{2}-\d{2}")),  # UTC
    "asset": ("资产", "Asset", re.compile(r"[A-Z0-9]{2,12}")),
}
FigureKind = Literal[
    "usdt", "number", "seconds", "duration", "status", "time", "percent", "symbol", "findings"
]
_FIGURE_PATTERNS: Final[dict[FigureKind, re.Pattern[str]]] = {
    "usdt": re.compile(r"-?\d{1,18}(\.\d{1,18})?"),
    "number": re.compile(r"-?\d{1,18}(\.\d{1,18})?"),
    "seconds": re.compile(r"\d{1,9}(\.\d{1,3})?"),
    "duration": re.compile(r"\d{1,9}(ms|s|m|h|d)"),
    "status": re.compile(r"[A-Z_]{1,32}"),
    "time": re.compile(r"\d{13}"),  # epoch ms
    "percent": re.compile(r"\d{1,3}(\.\d{1,4})?"),
    "symbol": re.compile(r"[A-Z0-9]{2,20}"),
    "findings": re.compile(r"[A-Z_]{1,32}(,[A-Z_]{1,32}){0,7}"),  # codes of KEY_FINDINGS
}
# Shown figures: name → (Chinese, English, kind).
FIGURES: Final[dict[str, tuple[str, str, FigureKind]]] = {
    "pnl_usdt": ("盈亏", "PnL", "usdt"),
    "threshold_usdt": ("阈值", "Threshold", "usdt"),
    "window": ("窗口", "Window", "duration"),
    "until_ms": ("截止", "Until", "time"),
    "qty": ("数量", "Quantity", "number"),
    "price": ("价格", "Price", "number"),
    "age_s": ("已停滞", "Age", "seconds"),
    "lag_s": ("延迟", "Late by", "seconds"),
    "retry_after_s": ("等待", "Retry after", "seconds"),
    "code": ("错误码", "Code", "number"),
    "status": ("状态", "Status", "status"),
    "count": ("次数", "Count", "number"),
    "failures": ("连续失败", "Failures in a row", "number"),
    # a day's summary, in the alert's asset
    "realized_pnl": ("已实现盈亏", "Realized PnL", "number"),
    "commission": ("手续费", "Commission", "number"),
    "funding": ("资金费", "Funding", "number"),
    "net": ("净盈亏", "Net", "number"),
    "trades": ("成交笔数", "Trades", "number"),
    "win_rate": ("胜率", "Win rate", "percent"),
    "worst_symbol": ("最差品种", "Worst symbol", "symbol"),
    # an API key's findings (riskd.exchange.key_safety)
    "findings": ("问题", "Findings", "findings"),
}
# What is wrong with an API key: code → (Chinese, English); another code is not shown.
KEY_FINDINGS: Final[dict[str, tuple[str, str]]] = {
    "WITHDRAWALS_ENABLED": ("已开启提现", "withdrawals enabled"),
    "NO_IP_RESTRICTION": ("未限制 IP", "no IP restriction"),
    "READING_DISABLED": ("未开启读取", "reading disabled"),
    "FUTURES_DISABLED": ("未开启合约交易", "futures trading not enabled"),
    "TRADING_AUTHORITY_EXPIRES": ("交易权限即将到期", "trading authority ending"),
}


def _figure_text(kind: FigureKind, value: str, language: Language) -> str:
    if kind == "findings":
        known = [KEY_FINDINGS[code] for code in value.split(",") if code in KEY_FINDINGS]
        return ("、" if language == "zh" else ", ").join(_pick(pair, language) for pair in known)
    if kind == "usdt":
        return f"{value} USDT"
    if kind == "seconds":
        return f"{value} s"
    if kind == "time":
        return utc_text(int(value))
    if kind == "percent":
        return f"{value}%"
    return value


# What riskd did: code → (Chinese, English).
ACTIONS: Final[dict[str, tuple[str, str]]] = {
    "locked": ("已禁止开仓", "opening is banned"),
    "unlocked": ("已解除", "the ban ended"),
    "halted": ("账户已停止交易", "the account is halted"),
    "reducing": ("只允许减仓", "only reducing is allowed"),
    "paused_ip": ("该 IP 上的任务已暂停, 等待解封", "jobs on this IP pause until the ban ends"),
    "backed_off": ("已降低请求频率", "requests slowed down"),
    "retrying": ("稍后重试", "will retry"),
    "market_reduced": ("已市价减仓", "reduced at market"),
    "ladder_fallback": ("已改用市价减仓", "fell back to a market reduce"),
    "restarted": ("已自动重启", "restarted on its own"),
    "reconnected": ("已重新连接", "reconnected"),
    "refused": ("订单未发送", "the order was not sent"),
    "flattening": ("已停止开仓, 正在撤单并市价平仓", "new risk stopped; cancelling and closing"),
    "flattened": ("交易所确认已平仓", "the exchange confirms flat"),
    "flatten_incomplete": ("仍有仓位未平, 请人工处理", "positions are left: act by hand"),
    "ban_list_expiring": (
        "禁开列表将过期, 策略将视为全禁",
        "the ban list expires: clients fail closed",
    ),
    "console_only": ("告警仅输出到控制台", "alerts go to the console only"),
    "fix_key": (
        "请在币安 API 管理中收紧此密钥的权限",
        "tighten the key's permissions in Binance's API management",
    ),
    "none": ("无需操作", "nothing to do"),
}
_COLOUR: Final = {Severity.CRITICAL: "red", Severity.WARNING: "orange", Severity.INFO: "blue"}
_RESOLVED_COLOUR: Final = "green"
_WORDS: Final = {
    "firing": ("告警", "FIRING"),
    "notice": ("通知", "NOTICE"),
    "resolved": ("已恢复", "RESOLVED"),
    "at": ("时间", "at"),
    "since": ("开始", "since"),
    "ended": ("结束", "ended"),
    "action": ("处理", "riskd"),
    "updates": ("条更新", "updates"),
}


def _pick(pair: tuple[str, str], language: Language) -> str:
    return pair[0] if language == "zh" else pair[1]


def utc_text(at_ms: int) -> str:
    """*at_ms* as ``YYYY-MM-DD HH:MM:SS UTC``."""
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def title_of(name: str, language: Language) -> str:
    """The catalogue title of alert *name*; an unknown name shows as itself if it is a plain
    identifier, else as "alert"."""
    if name in TITLES:
        return _pick(TITLES[name], language)
    return name if re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,40}", name) else "alert"


def shown_fields(alert: Alert, language: Language) -> list[tuple[str, str]]:
    """(caption, value) of every whitelisted label and figure of *alert* whose value fits."""
    shown: list[tuple[str, str]] = []
    labels = dict(alert.labels)
    for name, (zh, en, pattern) in LABELS.items():
        value = labels.get(name)
        if value is not None and pattern.fullmatch(value):
            shown.append((_pick((zh, en), language), value))
    figures = dict(alert.figures)
    for name, (zh, en, kind) in FIGURES.items():
        value = figures.get(name)
        if value is not None and _FIGURE_PATTERNS[kind].fullmatch(value):
            shown.append((_pick((zh, en), language), _figure_text(kind, value, language)))
    return shown


def _one_off(alert: Alert) -> bool:
    """A fact that happened once (``events.one_shot``): it fired and resolved at one time, so
    its card says when it happened, in its severity's colour, not that it recovered."""
    return alert.ends_ms == alert.starts_ms


def _alert_lines(alert: Alert, language: Language) -> list[str]:
    fields = " · ".join(f"{caption} {value}" for caption, value in shown_fields(alert, language))
    times = f"{_pick(_WORDS['since'], language)} {utc_text(alert.starts_ms)}"
    if _one_off(alert):
        times = f"{_pick(_WORDS['at'], language)} {utc_text(alert.starts_ms)}"
    elif alert.ends_ms is not None:
        times += f", {_pick(_WORDS['ended'], language)} {utc_text(alert.ends_ms)}"
    lines = [fields or title_of(alert.name, language), times]
    if alert.action in ACTIONS:
        lines.append(
            f"{_pick(_WORDS['action'], language)}: {_pick(ACTIONS[alert.action], language)}"
        )
    return lines


def _heading(notification: Notification, language: Language) -> str:
    name = dict(notification.group_labels).get("alertname", "")
    account = dict(notification.group_labels).get("account", "")
    notices = sum(map(_one_off, notification.resolved))
    counts = {
        "firing": len(notification.firing),
        "notice": notices,
        "resolved": len(notification.resolved) - notices,
    }
    parts = [f"{_pick(_WORDS[word], language)} {count}" for word, count in counts.items() if count]
    where = f" · {account}" if LABELS["account"][2].fullmatch(account) else ""
    return f"[{' / '.join(parts)}] {title_of(name, language)}{where}"


def _section(notification: Notification, language: Language) -> tuple[list[dict], list[str]]:
    elements: list[dict[str, Any]] = []
    text: list[str] = [_heading(notification, language)]
    for state, alerts in (("firing", notification.firing), ("resolved", notification.resolved)):
        for alert in alerts:
            lines = _alert_lines(alert, language)
            mark = "🔴" if state == "firing" else "🔔" if _one_off(alert) else "✅"
            elements.append(
                {"tag": "div", "text": {"tag": "lark_md", "content": f"{mark} " + "\n".join(lines)}}
            )
            text.append(f"  {mark} " + " | ".join(lines))
    return elements, text


def render(
    notifications: Sequence[Notification], uuid: str, deployment: str, language: Language
) -> Message:
    """One message for *notifications*: one group's card, or a digest of several groups when
    the outbound limiter coalesced them."""
    if not notifications:
        raise ValueError("nothing to render")
    firing = any(n.firing or any(map(_one_off, n.resolved)) for n in notifications)
    severity = max((n.severity for n in notifications), key=list(Severity).index)
    colour = _COLOUR[severity] if firing else _RESOLVED_COLOUR
    if len(notifications) == 1:
        title = _heading(notifications[0], language)
    else:
        title = f"riskd · {len(notifications)} {_pick(_WORDS['updates'], language)}"
    elements: list[dict[str, Any]] = []
    lines: list[str] = [title]
    for index, notification in enumerate(notifications):
        section, text = _section(notification, language)
        if len(notifications) > 1:
            if index:
                elements.append({"tag": "hr"})
            heading = _heading(notification, language)
            elements.append({"tag": "div", "text": {"tag": "lark_md", "content": f"**{heading}**"}})
        elements += section
        lines += text[1:] if len(notifications) == 1 else text
    deployment_shown = deployment if re.fullmatch(_NAME, deployment) else "riskd"
    at = utc_text(max(n.at_ms for n in notifications))
    elements.append(
        {
            "tag": "note",
            "elements": [{"tag": "plain_text", "content": f"{deployment_shown} · {at}"}],
        }
    )
    card = {
        "config": {"wide_screen_mode": True},
        "header": {"template": colour, "title": {"tag": "plain_text", "content": title}},
        "elements": elements,
    }
    return Message(uuid=uuid, card=card, text="\n".join(lines))
