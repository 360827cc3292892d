"""``riskd report --html``: a daily report as one self-contained HTML page.

The page is ``riskd/web/report.html`` with ``charts.js`` inlined and the report (as ``GET
/v1/report/daily`` answers it) embedded as JSON in a ``<script type="application/json">``, so
it loads nothing from anywhere: it opens offline, from a file or a mail. In the JSON ``<``,
``>`` and ``&`` are written as ``\\u003c`` …, so no text of the report (a robot's name, say) can
close that element or open another; the page's script shows every text with textContent.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from riskd.core.display import utc
from riskd.web import asset

_MARKER: Final = re.compile(r"\{\{([A-Z_]+)\}\}")
_JSON_ESCAPES: Final = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def embedded_json(value: object) -> str:
    """*value* as JSON fit for the inside of a ``<script>`` element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return re.sub("[<>&]", lambda match: _JSON_ESCAPES[match.group()], text)


def daily_report_html(report: Mapping[str, Any], generated_ms: int) -> str:
    """The page of *report* (``DailyReport.to_dict``, as the gateway answers it), written at
    *generated_ms*."""
    script = asset("charts.js")
    if "</script" in script.lower():
        raise ValueError("charts.js cannot be inlined: it contains </script")
    by = f", per {report['by']}" if report["by"] else ""
    values = {
        "TITLE": html.escape(f"Daily report of {report['account']}"),
        "SUBTITLE": html.escape(
            f"{report['days']} UTC days{by}, from {utc(report['start_ms'])} to "
            f"{utc(report['end_ms'])}; written {utc(generated_ms)}"
        ),
        "CHARTS_JS": script,
        "REPORT_JSON": embedded_json(report),
    }
    # One pass: text put in is never searched for markers again.
    return _MARKER.sub(lambda match: values[match.group(1)], asset("report.html"))
