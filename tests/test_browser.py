"""The workbench in a real JupyterLab, driven by Debian's chromium (no browser download).

``rosterlab lab`` serves a copy of the notebooks (JupyterLab autosaves: never the repository's
files) over a store built from the maple samples; chromium opens 02_nightly_diff, runs every
cell, waits for the diff explorer, switches its entity tab and checks that the change table
changed. Screenshots land in the test's tmp dir. `make test` installs chromium (make sysdeps).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from rosterlab.cli import main

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "rosterlab-browser-test"
NOTEBOOK = "02_nightly_diff.ipynb"
# The notebook is the current panel and its kernel is idle (run-all acts on the current panel).
KERNEL_IDLE = f"""() => {{
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const session = panel && panel.sessionContext;
  return !!(panel && panel.context && panel.context.path === '{NOTEBOOK}' && session
            && session.session && session.session.kernel && session.kernelDisplayStatus === 'idle');
}}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_server(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"rosterlab lab exited with {process.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"JupyterLab did not answer at {url} within {timeout} s")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[str]:
    """``rosterlab lab`` on a copy of the notebooks, over a maple sample store; yields its URL."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make sysdeps` (apt-get install chromium)")
    store = tmp_path / "maple.duckdb"
    assert main(["--store", str(store), "ingest", str(ROOT / "data/samples/maple")]) == 0
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks, ignore=shutil.ignore_patterns("__pycache__"))
    home = tmp_path / "jupyter"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROSTERLAB_", "JUPYTER"))}
    env |= {
        "JUPYTER_TOKEN": TOKEN,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    # No "get Jupyter news?" toast over the screenshot (and no fetch attempt).
    notification = home / "settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rosterlab",
            "--store",
            str(store),
            "lab",
            "--port",
            str(port),
            "--no-browser",
            "--notebooks",
            str(notebooks),
            "--",
            "--LabApp.expose_app_in_browser=True",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "lab.log").open("wb"),
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_server(f"{base}/api/status", process)
        assert process.stdout is not None
        banner = process.stdout.readline().decode() + process.stdout.readline().decode()
        assert banner.startswith(f"JupyterLab on {notebooks}\n  store {store}")
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def change_table(page: Page) -> str:
    return page.inner_text(".rl-diff-explorer .rl-change-table")


def test_diff_explorer_renders_and_switches_entity_tabs_in_jupyterlab(lab, tmp_path):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{lab}/lab/tree/{NOTEBOOK}?token={TOKEN}")
            page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
            page.wait_for_function(KERNEL_IDLE, timeout=60_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

            page.wait_for_selector(".rl-diff-explorer .lm-TabBar-tab", timeout=120_000)
            page.wait_for_function(KERNEL_IDLE, timeout=120_000)
            selected = page.inner_text(".rl-diff-explorer .lm-TabBar-tab.lm-mod-current")
            before = change_table(page)
            assert selected == "students · 120 records"
            assert before.startswith("key\tchange\tfield\told\tnew\nS-100")

            page.click(".rl-diff-explorer .lm-TabBar-tab:has-text('enrollments')")
            page.wait_for_function(
                "() => document.querySelector('.rl-diff-explorer .rl-change-table')"
                ".innerText.includes('SEC-')",
                timeout=30_000,
            )
            after = change_table(page)
            assert after != before
            assert after.startswith("key\tchange\tfield\told\tnew\nSEC-")
            assert "field changes 1–25 of 2,469" in page.inner_text(".rl-diff-explorer")

            explorer = page.locator(".rl-diff-explorer")
            explorer.scroll_into_view_if_needed()
            explorer.screenshot(path=str(tmp_path / "diff-explorer.png"))
            page.screenshot(path=str(tmp_path / "jupyterlab.png"))
        finally:
            browser.close()
    assert (tmp_path / "diff-explorer.png").stat().st_size > 10_000


def test_report_opens_offline_with_its_charts_and_tables(tmp_path):
    """`rosterlab report --redact` on maple: one file that needs no network, and no PII."""
    store = tmp_path / "maple.duckdb"
    assert main(["--store", str(store), "ingest", str(ROOT / "data/samples/maple")]) == 0
    out = tmp_path / "maple.html"
    assert (
        main(
            ["--store", str(store), "report", "--district", "maple", "--out", str(out), "--redact"]
        )
        == 0
    )
    page_text = out.read_text()
    assert "<script" not in page_text and "<link" not in page_text
    students = (ROOT / "data/samples/maple/2026-09-08/students.csv").read_text().splitlines()
    last_names = {line.split(",")[4] for line in students[1:]}
    assert [name for name in last_names if f">{name}<" in page_text] == []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
            page = context.new_page()
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.goto(out.as_uri())
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.src.slice(0, 22), i.naturalWidth, i.alt])"
            )
            tables = page.evaluate("document.querySelectorAll('table').length")
            headings = page.evaluate(
                "Array.from(document.querySelectorAll('h2')).map(h => h.innerText)"
            )
            page.screenshot(path=str(tmp_path / "report.png"))
        finally:
            browser.close()
    assert requested == [out.as_uri()]
    assert [(src, width > 0) for src, width, _ in images] == [("data:image/png;base64,", True)] * 3
    assert [alt.split(",")[0] for _, _, alt in images] == [
        "Chart: records per night",
        "Chart: churn per night",
        "Chart: fill rate per field and night",
    ]
    assert tables >= 6
    assert headings[:4] == [
        "Maple Grove Unified School District (maple): night 7 (2026-09-07) → night 8 (2026-09-08)",
        "Your uploads, night by night",
        "What changed in the latest night",
        "Records",
    ]
