"""Browser test: a release notebook in JupyterLab with nbgrader's extension.

The test starts JupyterLab from this environment on 127.0.0.1, with its
config, data, runtime and workspace folders in a temporary folder. It opens
a copy of release/ex12/ex12.ipynb in the system Chromium through
Playwright, runs a cell and saves a screenshot to test-artifacts/ at the
repository root, or to the folder in COURSE_TEST_ARTIFACTS.

Without /usr/bin/chromium the test is skipped, unless COURSE_REQUIRE_BROWSER
is 1, as .ci/run sets it: then a missing browser fails the test.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "release" / "ex12" / "ex12.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("COURSE_TEST_ARTIFACTS", REPO / "test-artifacts")
)
SCREENSHOT = ARTIFACTS / "jupyterlab-ex12.png"

# Playwright downloads no browser here: it drives Debian's Chromium.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

NBGRADER_LABEXTENSION = "@jupyter/nbgrader"
NBGRADER_CREATE_ASSIGNMENT = "@jupyter/nbgrader:create-assignment"
# Widget id of the Create Assignment sidebar, as nbgrader 0.9.6 spells it.
CREATE_ASSIGNMENT_SIDEBAR = "#nbgrader-create_assignemnt"

SERVER_START_TIMEOUT_S = 60
SERVER_STOP_TIMEOUT_S = 10
# Playwright's limit for each action and expect() on the page, in ms.
PAGE_TIMEOUT_MS = 30_000


def _browser_missing(reason):
    """Fail the test when COURSE_REQUIRE_BROWSER is 1, else skip it."""
    if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
        pytest.fail(
            f"{reason}, and COURSE_REQUIRE_BROWSER=1 requires the browser "
            "test."
        )
    pytest.skip(
        f"{reason}. Install Debian's chromium package to run the browser "
        "test."
    )


@pytest.fixture
def playwright_api():
    """Return Playwright's sync API once Chromium is known to be installed."""
    if not CHROMIUM.exists():
        _browser_missing(f"{CHROMIUM} not found")
    try:
        from playwright import sync_api
    except ImportError:
        _browser_missing("The playwright package is not installed")
    return sync_api


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLab:
    """A JupyterLab server in a scratch folder, started from this Python."""

    def __init__(self, folder):
        self.folder = folder
        self.root = folder / "notebooks"
        self.config_dir = folder / "jupyter" / "config"
        self.log_path = folder / "jupyterlab.log"
        self.port = _free_port()
        self.token = secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        # Requests to the server ignore any *_proxy environment variables.
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({})
        )

    def environment(self):
        """Return the server's environment.

        Every Jupyter folder is inside the scratch folder, so no settings
        or workspace of the user's home are read or written. The packages,
        lab extensions and kernel of this environment are still found
        through sys.prefix.
        """
        env = dict(os.environ)
        jupyter = self.folder / "jupyter"
        env.update(
            JUPYTER_CONFIG_DIR=str(self.config_dir),
            JUPYTER_DATA_DIR=str(jupyter / "data"),
            JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
            IPYTHONDIR=str(jupyter / "ipython"),
            PATH=os.pathsep.join(
                [str(Path(sys.executable).parent), env.get("PATH", "")]
            ),
        )
        env.pop("JUPYTER_PATH", None)
        env.pop("JUPYTER_CONFIG_PATH", None)
        return env

    def write_config(self):
        """Write JupyterLab's settings to the scratch config folder."""
        lab = self.config_dir / "lab"
        settings = {
            "LabApp": {
                "user_settings_dir": str(lab / "user-settings"),
                "workspaces_dir": str(lab / "workspaces"),
                # Makes window.jupyterapp available, to ask which plugins
                # are activated.
                "expose_app_in_browser": True,
                # No news feed, update check or extension listing, which
                # would contact other hosts.
                "news_url": None,
                "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
                "extension_manager": "readonly",
            }
        }
        self.config_dir.mkdir(parents=True)
        config_file = self.config_dir / "jupyter_lab_config.json"
        config_file.write_text(json.dumps(settings))

        # The browser side never fetches the news either, so it shows no
        # toast asking about it, which would cover part of the screenshot.
        notification = (
            lab / "user-settings" / "@jupyterlab" / "apputils-extension"
        )
        notification.mkdir(parents=True)
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )

    def command(self):
        command = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
        ]
        # CI runs as root, and jupyter_server does not start as root
        # without this flag.
        if os.geteuid() == 0:
            command.append("--ServerApp.allow_root=True")
        return command

    def start(self):
        self.root.mkdir(parents=True)
        shutil.copy(NOTEBOOK, self.root / NOTEBOOK.name)
        self.write_config()
        with open(self.log_path, "wb") as log:
            # A session of its own lets stop() signal the server's whole
            # process group.
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.root,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_ready()

    def log_tail(self, lines=40):
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def request(self, path, method="GET"):
        """Send a request with the token and return the response body."""
        http_request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with self._opener.open(http_request, timeout=10) as response:
            return response.read()

    def _wait_until_ready(self):
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with status {self.process.returncode}"
                    f" before it answered; its log ends:\n{self.log_tail()}"
                )
            try:
                self.request("/api/status")
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.25)
        raise RuntimeError(
            f"JupyterLab did not answer on {self.url} within "
            f"{SERVER_START_TIMEOUT_S} s; its log ends:\n{self.log_tail()}"
        )

    def page_config(self):
        """Return the page config that the server embeds in /lab."""
        html = self.request("/lab").decode()
        start_tag = '<script id="jupyter-config-data" type="application/json">'
        start = html.index(start_tag) + len(start_tag)
        return json.loads(html[start:html.index("</script>", start)])

    def stop(self):
        """Shut down the kernels, then stop the server with SIGTERM, or
        with SIGKILL when it is still running after SERVER_STOP_TIMEOUT_S."""
        if self.process is None or self.process.poll() is not None:
            return

        # Kernels run in sessions of their own, so killing the server would
        # leave them running. The REST API shuts them down first.
        try:
            for kernel in json.loads(self.request("/api/kernels")):
                self.request(f"/api/kernels/{kernel['id']}", method="DELETE")
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            print(f"Shutting down the kernels failed ({error}); stopping the "
                  "server anyway.")

        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=SERVER_STOP_TIMEOUT_S)


@pytest.fixture
def jupyter_lab(tmp_path):
    """Yield a running JupyterLab server with a copy of NOTEBOOK."""
    server = JupyterLab(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@dataclass
class BrowserPage:
    page: object
    # URLs of requests to hosts other than 127.0.0.1, which were aborted.
    blocked_requests: list = field(default_factory=list)


@pytest.fixture
def browser(playwright_api):
    """Yield a page in headless Chromium that reaches 127.0.0.1 only."""
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = chromium.new_context(
                viewport={"width": 1400, "height": 1000}
            )
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            browser_page = BrowserPage(page)

            def allow_loopback_only(route):
                if urlsplit(route.request.url).hostname == "127.0.0.1":
                    route.continue_()
                else:
                    browser_page.blocked_requests.append(route.request.url)
                    route.abort()

            context.route("**/*", allow_loopback_only)
            yield browser_page
        finally:
            chromium.close()


def _graded_cells(notebook_path):
    """Return {grade id: points as text} of the notebook's graded cells."""
    graded = {}
    for cell in json.loads(notebook_path.read_text())["cells"]:
        nbgrader = cell["metadata"].get("nbgrader", {})
        if "points" in nbgrader:
            graded[nbgrader["grade_id"]] = str(nbgrader["points"])
    return graded


# Returns {grade id: points} of every cell card in the Create Assignment
# sidebar. Cards of cells that are not graded show no points field, but it
# is still there, with the value 0.
SIDEBAR_CELLS = """() => {
    const cells = {};
    for (const card of document.querySelectorAll(".nbgrader-CellWidget")) {
        const id = card.querySelector(".nbgrader-CellId input");
        const points = card.querySelector(".nbgrader-CellPoints input");
        if (id && points) {
            cells[id.value] = points.value;
        }
    }
    return cells;
}"""


# playwright_api comes first, so a missing browser skips the test before
# the server starts.
def test_ex12_opens_and_runs_in_jupyterlab(
    playwright_api, jupyter_lab, browser
):
    page = browser.page
    expect = playwright_api.expect
    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    SCREENSHOT.unlink(missing_ok=True)

    # The server lists nbgrader among the prebuilt lab extensions it serves.
    extensions = jupyter_lab.page_config()["federated_extensions"]
    extension_names = [extension["name"] for extension in extensions]
    assert NBGRADER_LABEXTENSION in extension_names

    page.goto(
        f"{jupyter_lab.url}/lab/tree/{NOTEBOOK.name}"
        f"?token={jupyter_lab.token}"
    )
    notebook = page.locator(".jp-NotebookPanel .jp-Notebook")
    try:
        # The notebook renders its heading and the code of a test cell.
        heading = notebook.locator(".jp-RenderedMarkdown h1").first
        expect(heading).to_contain_text("Problem set 12")
        test_cell = notebook.locator(".jp-CodeCell").filter(
            has_text="# Check sigmoid at known values"
        )
        expect(test_cell).to_have_count(1)

        # The page activated nbgrader's Create Assignment plugin.
        page.wait_for_function("() => window.jupyterapp !== undefined")
        activated = page.evaluate(
            "id => window.jupyterapp.isPluginActivated(id)",
            NBGRADER_CREATE_ASSIGNMENT,
        )
        assert activated, f"{NBGRADER_CREATE_ASSIGNMENT} is not activated"

        # Its sidebar has a card per cell, with the grade id and points of
        # every graded cell.
        page.get_by_role("tab", name="Create Assignment").click()
        cards = page.locator(
            f"{CREATE_ASSIGNMENT_SIDEBAR} .nbgrader-CellWidget"
        )
        cell_count = len(json.loads(NOTEBOOK.read_text())["cells"])
        expect(cards).to_have_count(cell_count)
        expected_graded = _graded_cells(NOTEBOOK)
        assert expected_graded["test_sigmoid"] == "1"
        sidebar = page.evaluate(SIDEBAR_CELLS)
        shown_graded = {
            grade_id: sidebar.get(grade_id) for grade_id in expected_graded
        }
        assert shown_graded == expected_graded

        # Run the first code cell, then a new cell below that uses its
        # import and prints.
        first_code_cell = notebook.locator(".jp-CodeCell").first
        expect(first_code_cell).to_contain_text("import numpy as np")
        first_code_cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        first_prompt = first_code_cell.locator(".jp-InputPrompt")
        expect(first_prompt).to_contain_text("[1]")

        first_prompt.click()
        page.keyboard.press("b")
        new_cell = notebook.locator(".jp-CodeCell").nth(1)
        new_cell.locator(".jp-InputArea-editor").click()
        page.keyboard.insert_text("print(np.arange(3) * 2)")
        page.keyboard.press("Shift+Enter")
        output = new_cell.locator(".jp-OutputArea-output")
        expect(output).to_contain_text("[0 2 4]")
    finally:
        # Also taken when a check fails, to show what the page looked like.
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOT)

    assert SCREENSHOT.is_file()
    assert SCREENSHOT.stat().st_size > 0
    assert browser.blocked_requests == []
