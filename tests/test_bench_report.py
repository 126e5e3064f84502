"""Benchmark reports: the PNG plots and the per-run HTML page, checked in headless Chromium.

The results are synthetic (hand-built episode outcomes put through ``build_results``), but
their timelines come from real session events through the runner's own timeline recorder, so
the page is tested on rows of the shape a benchmark run writes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from specagent.bench.html import (
    STATUS_COLOURS,
    ResultsError,
    RunReport,
    call_bars,
    load_results,
    write_html,
)
from specagent.bench.plots import draw_plots, redraw
from specagent.bench.report import build_results, write_results
from specagent.bench.runner import BenchSettings, EpisodeOutcome, TurnOutcome, _TimelineRecorder
from specagent.events import (
    AnswerCompleted,
    AnswerStarted,
    Event,
    ModelOutput,
    ToolCallCancelled,
    ToolCallCommitted,
    ToolCallCompensated,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallHeld,
    ToolCallIssued,
    ToolCallRevised,
    ToolCallStarted,
    UserSpeech,
)

CHROMIUM = "/usr/bin/chromium"
EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def _hex_rgb(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _speech(last_word: float) -> list[Event]:
    return [
        UserSpeech(t=0.0, text="book a table"),
        UserSpeech(t=last_word / 2, text="for two in"),
        UserSpeech(t=last_word, text="Paris tonight", final=True),
    ]


def _outcome(
    dataset: str,
    episode_id: str,
    policy: str,
    *,
    passed: bool,
    latency: float | None,
    events: Sequence[Event],
    answer: str | None = "Booked.",
    calls: Sequence[dict[str, Any]] = (),
) -> EpisodeOutcome:
    recorder = _TimelineRecorder()
    for event in events:
        recorder(event)
    return EpisodeOutcome(
        dataset=dataset,
        episode_id=episode_id,
        policy=policy,
        passed=passed,
        check_detail="state matches" if passed else "table not booked",
        latency_s=latency,
        first_token_latency_s=None if latency is None else latency / 2,
        turns=[
            TurnOutcome(
                user="book a table for two in Paris tonight",
                answer=answer,
                ended="answered" if answer is not None else "gave_up",
                latency_s=latency,
                first_token_latency_s=None,
                calls=list(calls),
            )
        ],
        tokens_generated=40,
        protocol_errors=0,
        calls_issued=len(calls),
        calls_run_early=0,
        calls_wasted=0,
        calls_compensated=0,
        calls_held=0,
        committed_state={},
        timeline=recorder.rows,
        wall_s=0.1,
    )


def _sync_run(dataset: str, episode_id: str, latency: float, passed: bool = True) -> EpisodeOutcome:
    end = 2.0 + latency
    events = [
        *_speech(2.0),
        ModelOutput(t=2.6, started_t=2.0, text="<tool_call>find</tool_call>", tokens=12),
        ToolCallIssued(t=2.6, call_id=1, name="find_table", arguments={"city": "Paris"}),
        ToolCallStarted(t=2.6, call_id=1),
        ToolCallFinished(t=3.4, call_id=1, result={"table": 7}),
        ToolCallCommitted(t=3.4, call_id=1),
        AnswerStarted(t=end - 0.3),
        AnswerCompleted(t=end, text="Booked."),
    ]
    return _outcome(dataset, episode_id, "sync", passed=passed, latency=latency, events=events)


def _speculative_run(dataset: str, episode_id: str, latency: float) -> EpisodeOutcome:
    end = 2.0 + latency
    events = [
        *_speech(2.0),
        ModelOutput(t=0.8, started_t=0.2, text="thinking", tokens=8, interrupted=True),
        ToolCallIssued(t=0.8, call_id=1, name="find_table", arguments={"city": "Paris"}),
        ToolCallStarted(t=0.8, call_id=1),
        ToolCallFinished(t=1.5, call_id=1, result={"table": 7}),
        ToolCallIssued(t=1.0, call_id=2, name="book", arguments={"table": 7}),
        ToolCallStarted(t=1.0, call_id=2),
        ToolCallFinished(t=1.6, call_id=2, result={"ok": True}),
        ToolCallCompensated(t=1.9, call_id=2),
        ToolCallIssued(t=1.1, call_id=3, name="weather", arguments={"city": "Paris"}),
        ToolCallStarted(t=1.1, call_id=3),
        ToolCallFailed(t=1.3, call_id=3, error="service down", error_type="tool_error"),
        ToolCallIssued(t=1.2, call_id=4, name="lookup", arguments={"q": "x"}),
        ToolCallCancelled(t=1.4, call_id=4, reason="user changed their mind"),
        ToolCallIssued(t=2.1, call_id=5, name="pay", arguments={"amount": 20}),
        ToolCallHeld(t=2.1, call_id=5, reason="waits for the final update"),
        ModelOutput(t=end - 0.1, started_t=2.0, text="Booked.", tokens=5),
        AnswerStarted(t=end - 0.1),
        AnswerCompleted(t=end, text="Booked."),
    ]
    calls = [
        {"id": 2, "name": "book", "status": "done", "disposition": "compensated"},
        {"id": 5, "name": "pay", "status": "waiting", "disposition": "cancelled", "held": True},
    ]
    return _outcome(
        dataset,
        episode_id,
        "speculative",
        passed=True,
        latency=latency,
        events=events,
        calls=calls,
    )


def _results(extra: Sequence[EpisodeOutcome] = ()) -> dict[str, Any]:
    outcomes: list[EpisodeOutcome] = []
    for dataset, count in (("alpha", 4), ("beta", 3)):
        for i in range(count):
            eid = f"{dataset}-{i}"
            outcomes.append(_sync_run(dataset, eid, 3.0 + 0.2 * i, passed=i != 1))
            outcomes.append(_speculative_run(dataset, eid, 1.4 + 0.1 * i))
            outcomes.append(
                _outcome(
                    dataset,
                    eid,
                    "async",
                    passed=False,
                    latency=None,
                    events=_speech(2.0),
                    answer=None,
                )
            )
    outcomes.extend(extra)
    return build_results(
        BenchSettings(model="scripted-test", seed=7),
        ["alpha", "beta"],
        ["sync", "async", "speculative"],
        outcomes,
        command="specagent bench --dataset alpha,beta",
        wall_s=1.5,
        limit=None,
    )


def _evil_run(policy: str, latency: float) -> EpisodeOutcome:
    events = [*_speech(2.0), AnswerCompleted(t=2.0 + latency, text=EVIL)]
    return _outcome(
        "beta", "<b>evil</b>", policy, passed=True, latency=latency, events=events, answer=EVIL
    )


# -- plots ------------------------------------------------------------------------------------


def _has_colour(path: Path, colour: str, tolerance: int = 12) -> bool:
    target = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    image = Image.open(path).convert("RGB")
    return any(
        all(abs(a - b) <= tolerance for a, b in zip(pixel, target, strict=True))
        for _, pixel in image.getcolors(maxcolors=1 << 20) or []
    )


def test_plots_are_valid_pngs_with_a_curve_per_answering_policy(tmp_path: Path) -> None:
    paths = draw_plots(_results(), tmp_path)
    assert [p.name for p in paths] == ["latency_cdf.png", "speedup_accuracy.png"]
    for path in paths:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.width > 600 and image.height > 400
    cdf, scatter = paths
    assert _has_colour(cdf, "#2ca02c")  # speculative curve
    assert _has_colour(cdf, "#6b6b6b")  # sync curve
    assert _has_colour(scatter, "#2ca02c")  # speculative point


def test_redraw_from_a_stored_results_file(tmp_path: Path) -> None:
    stored = write_results(_results(), tmp_path / "run")
    paths = redraw(stored)
    assert all(p.parent == tmp_path / "run" and p.stat().st_size > 10_000 for p in paths)
    other = redraw(stored, tmp_path / "elsewhere")
    assert all(p.is_file() for p in other)


def test_reports_refuse_documents_they_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="schema"):
        draw_plots({"schema": "other/9"}, tmp_path)
    broken = _results()
    del broken["episodes"]
    with pytest.raises(ResultsError, match="malformed"):
        write_html(broken, tmp_path)
    bad = tmp_path / "results.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ResultsError, match="not JSON"):
        load_results(bad)


def test_call_bars_follow_each_call_to_its_end() -> None:
    run = _speculative_run("alpha", "e", 1.0)
    bars = {b.call: b for b in call_bars(run)}
    assert {k: b.status for k, b in bars.items()} == {
        1: "done",
        2: "compensated",
        3: "failed",
        4: "cancelled",
        5: "held",
    }
    assert bars[1].name == "find_table"
    assert (bars[1].spans[0].started, bars[1].spans[0].ended) == (0.8, 1.5)
    assert bars[1].committed is None and bars[1].marks == []
    assert bars[5].spans[0].held == 2.1
    assert bars[5].spans[0].started is None and bars[5].spans[0].ended is None


def test_a_revised_call_keeps_each_version_and_later_changes_are_marks() -> None:
    events = [
        *_speech(2.0),
        ToolCallIssued(t=1.0, call_id=2, name="find", arguments={"city": "Paris"}),
        ToolCallStarted(t=1.0, call_id=2),
        ToolCallFinished(t=1.5, call_id=2, result=[]),
        ToolCallCancelled(t=2.0, call_id=2, reason="revised"),
        ToolCallRevised(t=2.0, call_id=2, name="find", arguments={"city": "Paris", "x": 1}),
        ToolCallFailed(t=2.0, call_id=2, error="extra input x", error_type="invalid_arguments"),
        ToolCallCancelled(t=3.0, call_id=2, reason="revised"),
        ToolCallRevised(t=3.0, call_id=2, name="reserve", arguments={"table": 1}),
        ToolCallHeld(t=3.0, call_id=2, reason="waits for its commit point"),
        ToolCallStarted(t=3.5, call_id=2),
        ToolCallFinished(t=4.0, call_id=2, result={"ok": True}),
        ToolCallCancelled(t=5.0, call_id=2, reason="session ended"),
    ]
    run = _outcome("alpha", "e", "async", passed=False, latency=None, events=events)
    (bar,) = call_bars(run)
    assert bar.name == "reserve"
    assert [(s.issued, s.started, s.ended, s.status) for s in bar.spans] == [
        (1.0, 1.0, 1.5, "done"),
        (2.0, None, 2.0, "failed"),
        (3.0, 3.5, 4.0, "done"),
    ]
    assert bar.spans[2].held == 3.0
    assert bar.marks == [(2.0, "cancelled"), (3.0, "cancelled"), (5.0, "cancelled")]


# -- the page in a browser --------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def _open(browser: Any, path: Path) -> tuple[Any, list[str], list[str]]:
    page = browser.new_page()
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems, requests


def test_report_page_shows_metrics_and_timelines(tmp_path: Path, browser: Any) -> None:
    results = _results()
    draw_plots(results, tmp_path)
    path = write_html(results, tmp_path)
    page, problems, requests = _open(browser, path)
    try:
        overall = page.locator("table.metrics").first
        for policy in ("sync", "async", "speculative"):
            row = overall.locator(f'tr.policy-row[data-policy="{policy}"]')
            assert row.is_visible()
        spec_row = overall.locator('tr.policy-row[data-policy="speculative"]').inner_text()
        assert "100.0%" in spec_row and "7/7" in spec_row
        assert "0/7" in overall.locator('tr.policy-row[data-policy="async"]').inner_text()
        assert page.locator("table.metrics").count() == 3  # overall + two datasets
        assert page.locator(".plots img").count() == 2
        assert page.evaluate(
            "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
        )
        assert page.locator("#shown").inner_text() == "7 of 7 episodes shown"

        episode = page.locator("details.episode").first
        bars = episode.locator('section.run[data-policy="speculative"] rect.call')
        assert not bars.first.is_visible()  # collapsed until opened
        episode.locator(":scope > summary").click()
        assert bars.count() == 5
        for status in ("done", "compensated", "failed", "cancelled", "held"):
            bar = episode.locator(
                f'section.run[data-policy="speculative"] rect.call[data-status="{status}"]'
            )
            assert bar.is_visible(), status
            fill = bar.evaluate("e => getComputedStyle(e).fill")
            assert fill == _hex_rgb(STATUS_COLOURS[status]), status
            assert bar.bounding_box()["width"] >= 3
        sync_lanes = episode.locator('section.run[data-policy="sync"] svg.lanes')
        assert sync_lanes.locator("rect.gen").count() == 1
        assert sync_lanes.locator("rect.latency").count() == 1
        assert episode.locator('section.run[data-policy="sync"] .badge.pass').is_visible()
        assert (
            "latency 3.00 s" in episode.locator('section.run[data-policy="sync"] h4').inner_text()
        )

        page.fill("#filter", "beta-2")
        assert page.locator("#shown").inner_text() == "1 of 7 episodes shown"
        page.fill("#filter", "")
        page.select_option("#state", "disagree")
        assert page.locator("#shown").inner_text() == "7 of 7 episodes shown"
        page.select_option("#state", "error")
        assert page.locator("#shown").inner_text() == "0 of 7 episodes shown"
        assert problems == []
        assert all(u.startswith(("file:", "data:")) for u in requests), requests
    finally:
        page.close()


def test_report_escapes_untrusted_text(tmp_path: Path, browser: Any) -> None:
    results = _results(
        [_evil_run("sync", 2.0), _evil_run("speculative", 1.0), _evil_run("async", 1.5)]
    )
    path = write_html(results, tmp_path)
    raw = path.read_text(encoding="utf-8")
    assert "<script>window.__pwned" not in raw and "<img src=x" not in raw
    assert "<b>evil</b>" not in raw
    assert raw.count("<script>") == 1  # the page's own filter script only
    page, problems, _ = _open(browser, path)
    try:
        assert page.evaluate("window.__pwned") is None
        episode = page.locator("details.episode", has_text="<b>evil</b>")
        assert episode.count() == 1
        episode.locator(":scope > summary").click()
        answers = episode.locator("td.answer-text")
        assert answers.count() == 3
        assert answers.first.inner_text() == EVIL
        assert page.locator("details.episode b").count() == 0
        assert page.evaluate("window.__pwned") is None
        assert problems == []
    finally:
        page.close()


def test_results_json_round_trip_reads_the_same(tmp_path: Path) -> None:
    results = _results()
    stored = write_results(results, tmp_path)
    report = load_results(stored)
    assert report == RunReport.from_results(json.loads(json.dumps(results, default=str)))
    assert report.policy_names == ["sync", "async", "speculative"]
    assert report.episode_count() == 7
    assert "n = 7 episodes (alpha, beta)" in report.caption()


def test_bars_are_drawn_from_structured_fields_not_display_text() -> None:
    run = _speculative_run("alpha", "e", 1.0)
    lying = [
        {**row, "text": "#9 done -> all fine"} if row.get("call") is not None else row
        for row in run.timeline
    ]
    bars = {b.call: b for b in call_bars(dataclasses.replace(run, timeline=lying))}
    assert bars[3].status == "failed" and bars[3].name == "weather"
    assert bars[2].status == "compensated" and bars[1].spans[0].ended == 1.5
    # rows stored before the structured fields (kind only) still draw the same bars
    legacy = [
        {k: v for k, v in row.items() if k not in ("status", "tool", "effect", "error_type")}
        for row in run.timeline
    ]
    old = {
        b.call: (b.status, b.spans) for b in call_bars(dataclasses.replace(run, timeline=legacy))
    }
    assert old == {b.call: (b.status, b.spans) for b in call_bars(run)}


def test_timeline_rows_carry_structured_fields() -> None:
    run = _speculative_run("alpha", "e", 1.0)
    rows = run.timeline
    gen = next(r for r in rows if r["kind"] == "ModelOutput")
    assert (gen["start"], gen["tokens"], gen["interrupted"]) == (0.2, 8, True)
    assert [r["final"] for r in rows if r["kind"] == "UserSpeech"] == [False, False, True]
    failed = next(r for r in rows if r["kind"] == "ToolCallFailed")
    assert (failed["call"], failed["tool"], failed["status"], failed["error_type"]) == (
        3,
        "weather",
        "failed",
        "tool_error",
    )
    assert [r["answer"] for r in rows if r["lane"] == "answer"] == ["started", "completed"]


def test_report_templates_ship_as_package_files() -> None:
    from importlib.resources import files

    templates = files("specagent.bench") / "templates"
    for name in ("report.html", "report.css", "report.js"):
        assert (templates / name).is_file(), name


def test_a_turns_latency_is_split_into_phases_that_add_up():
    from specagent.bench.phases import episode_phases

    timeline = [
        {"t": 1.0, "kind": "UserSpeech", "final": True},
        # 0.5 s of call writing (10 tokens at 40 tok/s = 0.25 s decode, the rest prompt)
        {"t": 1.5, "kind": "ModelOutput", "start": 1.0, "tokens": 10, "text": "<tool_call"},
        {"t": 1.5, "kind": "ToolCallStarted", "call": 1},
        {"t": 2.5, "kind": "ToolCallFinished", "call": 1},
        {"t": 2.6, "kind": "ModelOutput", "start": 2.5, "tokens": 2, "text": "<tool_call"},
        {"t": 3.0, "kind": "ModelOutput", "start": 2.7, "tokens": 8, "text": "<answer>Hi"},
        {"t": 3.0, "kind": "AnswerCompleted"},
    ]
    phases = episode_phases({"timeline": timeline}, decode_tps=40.0)
    assert phases is not None
    assert phases.seconds == pytest.approx(
        {
            "prefill": 0.25 + 0.05,
            "decode": 0.25 + 0.05,
            "tool wait": 1.0,
            "answer": 0.3,
            "other": 0.1,
        }
    )
    assert phases.total == pytest.approx(2.0)  # last word to answer complete
    assert episode_phases({"timeline": timeline[:-1]}, 40.0) is None  # never answered
