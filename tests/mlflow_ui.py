"""The MLflow UI in a real browser: the `mlflow ui` that `mindshare ui` prints, started on a free port,
and Debian's chromium driven headless through Debian's chromedriver (Selenium 4, no driver download).
Every page looked at is kept as a screenshot under build/test-artifacts/mlflow-ui/ (or
$MINDSHARE_TEST_ARTIFACTS/mlflow-ui/).

`.ci/run` installs `chromium chromium-driver` when absent and sets MINDSHARE_REQUIRE_BROWSER=1, so that
in CI a browser that cannot start is a failure, never a skip.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from live_server import stop_group
from postgres_server import free_port
from stage_project import REPO

REQUIRE_ENV = "MINDSHARE_REQUIRE_BROWSER"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (  # no network of its own (the machine may have none), no GPU, no sandbox (containers, root)
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--window-size=1600,1200",
)
ASSISTANT_CLOSE = "mlflow.assistant.chat_panel.close"  # its side panel hides a third of every page
PAGE_SECONDS = 30  # the UI renders client-side: how long to wait for a page's text


def artifacts_folder() -> Path:
    folder = Path(os.environ.get("MINDSHARE_TEST_ARTIFACTS") or REPO / "build/test-artifacts") / "mlflow-ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def unavailable(reason: str):
    """Fail where the browser is required (CI), else skip saying why and how to get it."""
    message = (f"a headless chromium cannot run here: {reason}; install Debian's `chromium chromium-driver` "
               "(`.ci/run` does)")
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(message)
    pytest.skip(message)


def printed_ui(folder: Path, env: dict[str, str]) -> tuple[list[str], str, int]:
    """`mindshare ui --port <a free port>` in the project: the `mlflow ui` command it prints, the experiment's URL
    and the port."""
    port = free_port()
    result = subprocess.run([sys.executable, "-m", "mindshare.cli", "ui", "--port", str(port)], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    command = next(shlex.split(line) for line in lines if " ui --backend-store-uri " in line)
    url = next(line for line in lines if line.startswith("http://"))
    return command, url, port


@contextmanager
def mlflow_ui(command: list[str], port: int, env: dict[str, str], log: Path, timeout: float = 90) -> Iterator[str]:
    """Run `command` (an `mlflow ui` on `port`) until the block ends; yields its base URL once it answers."""
    base = f"http://127.0.0.1:{port}"
    env = {**env, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    with log.open("w") as output, tempfile.TemporaryDirectory(prefix="mindshare-ui-") as workdir:
        process = subprocess.Popen([*command, "--workers", "1"], cwd=workdir, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + timeout
            while not _answers(f"{base}/health"):
                if process.poll() is not None or time.time() > deadline:
                    raise AssertionError(f"`{shlex.join(command)}` did not answer on {base}: {log.read_text()[-2000:]}")
                time.sleep(0.5)
            yield base
        finally:
            stop_group(process)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def chromium() -> Iterator[object]:
    """A headless chromium with a fresh profile, driven by Debian's chromedriver."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            unavailable(f"{path} is missing")
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("the selenium package is not installed (it is in the `dev` extra)")
    with tempfile.TemporaryDirectory(prefix="mindshare-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        try:
            driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        except WebDriverException as error:
            unavailable(f"chromium did not start ({str(error.msg or error).strip().splitlines()[0]})")
        try:
            yield driver
        finally:
            driver.quit()


def show(driver, url: str, texts: list[str], screenshot: Path, scroll_to: str | None = None) -> str:
    """Open `url`, wait until the page shows every one of `texts`, keep a screenshot either way (scrolled to the
    first element whose own text has `scroll_to`); return the page's text."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    try:
        WebDriverWait(driver, PAGE_SECONDS, poll_frequency=0.5).until(
            lambda d: all(text in _text(d) for text in texts))
    except TimeoutException:
        pass
    driver.execute_script(f"document.querySelector('[data-component-id=\"{ASSISTANT_CLOSE}\"]')?.click()")
    if scroll_to:
        driver.execute_script("document.evaluate(`//*[text()[contains(., '${arguments[0]}')]]`, document, null, "
                              "XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue"
                              "?.scrollIntoView({block: 'center'})", scroll_to)
    time.sleep(1)  # let the last paint land before the screenshot
    driver.save_screenshot(str(screenshot))
    shown = _text(driver)
    missing = [text for text in texts if text not in shown]
    assert not missing, (f"{url} (now {driver.current_url}) does not show {missing} after {PAGE_SECONDS} s; "
                         f"see {screenshot}; it shows: {shown[:1500]!r}")
    return shown


def compared_metric(driver, metric: str, columns: int) -> list[str]:
    """On the compare-runs page: the values of `metric`'s row, one per run (`columns` of them) in the page's order.
    The Metrics table is virtualised both ways (only the cells in view exist): scroll down to the row, then
    across it, reading the cells; the row is left in view for a screenshot."""
    grid = driver.execute_script(_METRICS_GRID + "return values;")
    assert grid is not None, "the compare page has no Metrics table"
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", grid)
    height, view_height, width, view_width = driver.execute_script(
        "const g = arguments[0]; return [g.scrollHeight, g.clientHeight, g.scrollWidth, g.clientWidth];", grid)
    top = None
    for offset in range(0, height, max(view_height // 2, 1)):
        _scroll(driver, "scrollTop", offset)
        top = driver.execute_script(_METRICS_GRID + """
            const name = _cells(names).find(cell => cell.innerText.trim() === arguments[0]);
            return name ? name.style.top : null;""", metric)
        if top is not None:
            break
    assert top is not None, f"the compare page's Metrics table has no row '{metric}'"
    _scroll(driver, "scrollTop", max(int(float(top.removesuffix("px"))) - view_height // 3, 0))  # in view, not
    # in the rows drawn ahead of the scroll, which go when it turns sideways
    cells: dict[float, str] = {}
    for _ in range(3):  # a pass across the row; again if a re-render came late
        for offset in (*range(0, width, max(view_width // 2, 1)), width):
            _scroll(driver, "scrollLeft", offset)
            cells.update(driver.execute_script(_METRICS_GRID + """
                return _cells(values).filter(cell => cell.style.top === arguments[0])
                    .map(cell => [parseFloat(cell.style.left), cell.innerText.trim()]);""", top))
        if len(cells) >= columns:
            break
    _scroll(driver, "scrollLeft", 0)
    return [cells[left] for left in sorted(cells)]


_METRICS_GRID = """
    const header = document.evaluate("//*[contains(@class, 'collapse-header')][normalize-space(.)='Metrics']",
        document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
    const section = header ? header.closest('[class*="collapse-item"]') : null;
    const grids = section ? section.querySelectorAll('.ReactVirtualized__Grid') : [];
    const names = grids.length === 2 ? grids[0] : null, values = grids.length === 2 ? grids[1] : null;
    const _cells = grid => Array.from(grid.querySelectorAll('.ReactVirtualized__Grid__innerScrollContainer > *'));
"""


def _scroll(driver, axis: str, offset: int, seconds: float = 30) -> None:
    """Scroll the Metrics table and wait until its cells (names and values) fill the new view."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script(_METRICS_GRID + f"values.{axis} = arguments[0];", offset)
    WebDriverWait(driver, seconds, poll_frequency=0.1).until(lambda d: d.execute_script(_METRICS_GRID + """
        const across = arguments[0] === 'scrollLeft';
        const start = across ? values.scrollLeft : values.scrollTop;
        const end = start + (across ? values.clientWidth : values.clientHeight);
        const covers = grid => {
            const spans = _cells(grid).map(cell => across
                ? [parseFloat(cell.style.left), parseFloat(cell.style.left) + parseFloat(cell.style.width)]
                : [parseFloat(cell.style.top), parseFloat(cell.style.top) + parseFloat(cell.style.height)]);
            return spans.length > 0 && Math.min(...spans.map(s => s[0])) <= start + 1
                && Math.max(...spans.map(s => s[1])) >= end - 1;
        };
        return covers(values) && (across || covers(names));""", axis))


def run_names(shown: str) -> list[str]:
    """The compare page's column order: its 'Run Name:' row, read from the page's text."""
    names = shown.split("Run Name:", 1)[1].split("Start Time:", 1)[0]
    return names.split()


def _text(driver) -> str:
    return driver.execute_script("return document.body ? document.body.innerText : ''")
