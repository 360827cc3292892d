"""Job metrics through ``ray.util.metrics`` (exported by Ray's Prometheus endpoint)."""

from __future__ import annotations

from ray.util.metrics import Counter, Gauge

from riskd.exchange.access import CallStats

_TAGS = ("deployment", "job", "account")


class JobMetrics:
    """Per-job gauges and counters, tagged with the deployment, the job and the account."""

    def __init__(self, deployment: str, job: str, account: str) -> None:
        self._tags = {"deployment": deployment, "job": job, "account": account}
        self._weight = Gauge(
            "riskd_job_weight_used_1m", "Weight used in the last minute", tag_keys=_TAGS
        )
        self._lag = Gauge("riskd_job_lag_ms", "How far behind schedule the job is", tag_keys=_TAGS)
        self._calls = Counter("riskd_job_calls_total", "Exchange calls sent", tag_keys=_TAGS)
        self._errors = Counter(
            "riskd_job_errors_total", "Exchange calls that failed", tag_keys=_TAGS
        )
        self._seen = CallStats()

    def update(self, stats: CallStats, weight_used_1m: int, lag_ms: int) -> None:
        self._weight.set(weight_used_1m, tags=self._tags)
        self._lag.set(lag_ms, tags=self._tags)
        if stats.calls > self._seen.calls:
            self._calls.inc(stats.calls - self._seen.calls, tags=self._tags)
        if stats.errors > self._seen.errors:
            self._errors.inc(stats.errors - self._seen.errors, tags=self._tags)
        self._seen = CallStats(calls=stats.calls, errors=stats.errors)


class MarketMetrics:
    """The gateway's market figures as metrics: requests per robot, and the age of each kind
    of data per symbol (what ``GET /v1/market/stats`` shows)."""

    def __init__(self, deployment: str) -> None:
        self._deployment = deployment
        self._requests = Counter(
            "riskd_market_requests_total",
            "Market requests answered, per robot",
            tag_keys=("deployment", "robot"),
        )
        self._age = Gauge(
            "riskd_market_data_age_ms",
            "Age of the newest market data held, per symbol and kind",
            tag_keys=("deployment", "symbol", "kind"),
        )
        self._seen: dict[str, int] = {}

    def update(self, stats: dict) -> None:
        """Export a ``MarketHub.stats`` answer."""
        for robot, requests in stats["robots"].items():
            new = requests - self._seen.get(robot, 0)
            if new > 0:
                self._requests.inc(new, tags={"deployment": self._deployment, "robot": robot})
            self._seen[robot] = requests
        for symbol, held in stats["symbols"].items():
            for kind, age_ms in held["kinds"].items():
                tags = {"deployment": self._deployment, "symbol": symbol, "kind": kind}
                self._age.set(age_ms, tags=tags)
