"""The HTML report: one self-contained page whose numbers a real browser renders."""

from __future__ import annotations

import html
import re
import shutil
import subprocess

import pytest

import dunning_rules as dr
from dunning_rules._replay import replay, replay_compare
from tests.replay.support import SMART, T0, failed, gen_month, paid

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(tmp_path, page, *extra):
    """Run headless Chromium on ``page``; its stdout."""
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium chromium-driver")
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def report():
    return replay(dr.load_rules(SMART), gen_month.generate(3, 200, 30)[0])


def test_the_page_needs_nothing_from_outside(report):
    """No script, no link, no image or style fetched: everything is inline."""
    page = report.to_html()
    assert "<script" not in page
    assert not re.search(r"""\b(src|href)\s*=""", page)
    assert "@import" not in page
    assert "<svg" in page


def test_text_from_events_is_escaped():
    """An invoice id or a rule name with markup is shown as text, not run as markup."""
    text = SMART.read_text().replace("standard-card-declined", "<b>std</b>")
    evil = failed("in_<img>", T0, email=None)
    report = replay(dr.load_rules(text), [evil, paid("in_<img>", T0 + 50)])
    page = report.to_html()
    assert "<b>std</b>" not in page
    assert html.escape("<b>std</b>") in page


def test_chromium_renders_the_numbers(tmp_path, report):
    """In the rendered DOM: events, runs, each channel's count, the recovered amount."""
    path = tmp_path / "replay.html"
    path.write_text(report.to_html(), encoding="utf-8")
    dom = _chromium(tmp_path, path, "--dump-dom")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    assert f" {report.events} events" in text
    assert f" {report.runs['started']} runs started" in text
    for channel, count in report.messages.items():
        assert f" {channel} {count} " in text
    assert "recovered on" in text
    for amount in report.recovered.values():
        assert f"{amount / 100:,.2f}" in text
    assert dom.count("<rect") >= len(report.per_day)


def test_chromium_takes_a_screenshot_of_the_comparison(tmp_path):
    """The comparison page renders too; the screenshot is an image of it."""
    events = gen_month.generate(4, 80, 30)[0]
    smart = dr.load_rules(SMART)
    later = dr.load_rules(SMART.read_text().replace("duration: 3d", "duration: 5d"))
    comparison = replay_compare(smart, later, events)
    path = tmp_path / "compare.html"
    path.write_text(comparison.to_html(), encoding="utf-8")
    shot = tmp_path / "compare.png"
    _chromium(tmp_path, path, f"--screenshot={shot}", "--window-size=1200,1600")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(shot.read_bytes()) > 20_000  # an image with content, not a blank page
