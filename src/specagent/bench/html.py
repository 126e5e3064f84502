"""The per-run HTML report: one self-contained page to read a benchmark run episode by episode.

A table says *that* a policy was faster or wrong; the page shows *why*: for every episode and
policy, a lane view over time of the user's speech, the model's generations, each tool call
(coloured by how it ended) and the answer. It is drawn from the ``results.json`` document
alone (:mod:`.results_doc`), from the structured fields of each timeline row
(:mod:`.report_view`), and rendered with the Jinja2 templates shipped in ``templates/``, with
autoescape on. It loads nothing from the network: styles, script, drawings and plots are
inline, and a Content-Security-Policy allows only the page's own script (by hash).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..extras import require
from .report_view import STATUS_COLOURS, CallBar, CallSpan, call_bars, page_view
from .results_doc import (
    LATENCY_CDF_PNG,
    POLICY_COLOURS,
    SPEEDUP_PNG,
    DatasetSection,
    ResultsError,
    RunReport,
    load_results,
    policy_colour,
)

__all__ = [
    "LATENCY_CDF_PNG",
    "POLICY_COLOURS",
    "SPEEDUP_PNG",
    "STATUS_COLOURS",
    "CallBar",
    "CallSpan",
    "DatasetSection",
    "ResultsError",
    "RunReport",
    "call_bars",
    "load_results",
    "policy_colour",
    "render_html",
    "write_html",
]

_TEMPLATES = Path(__file__).with_name("templates")


def _environment() -> Any:
    jinja2 = require("jinja2", extra="bench", feature="the HTML report")
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _status_css() -> str:
    return "".join(f".st-{name}{{fill:{colour}}}" for name, colour in STATUS_COLOURS.items())


def render_html(report: RunReport, out_dir: Path) -> str:
    """The page as a string (``out_dir`` is where plots are looked for)."""
    env = _environment()
    script = (_TEMPLATES / "report.js").read_text(encoding="utf-8")
    css = (_TEMPLATES / "report.css").read_text(encoding="utf-8") + _status_css()
    script_hash = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{script_hash}'"
    )
    return env.get_template("report.html").render(
        page=page_view(report, Path(out_dir)), css=css, script=script, csp=csp
    )


def write_html(results: Mapping[str, Any], out_dir: Path) -> Path:
    """Write ``report.html`` for a results document into ``out_dir``; returns its path."""
    report = RunReport.from_results(results)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(render_html(report, out_dir), encoding="utf-8")
    return path
