"""Reusable browser-test helpers: headless Chromium, an in-process server, and the page's controls.

Everything takes a ``base_url`` so the same helpers drive the page on one in-process function, on
the local front door (``http://127.0.0.1:8000/``) or on a deployed function URL.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARTIFACTS_DIR = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
)
WAIT_SECONDS = 20.0


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Debian's) through Debian's chromedriver; never downloads anything."""
    # Selenium Manager would otherwise try to fetch a driver from the internet.
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        # Console messages (CSP violations among them) are read back by the tests.
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1:<free port> in a thread; yields the base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def invoke_endpoint(app: Any) -> Iterator[str]:
    """Lambda's invoke API for one function, in a thread; yields its base URL.

    It stands in for the Lambda service (the AWS boundary): each POST to the invoke path is one
    function URL event, handed to the function's real handler (built by the same
    ``create_handler`` as ``app.main``'s) with a Lambda context. The container suite covers the
    same path through the real RIE.
    """
    import asyncio
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from app.lambda_handler import create_handler
    from tests.conftest import LambdaContext
    from tools.frontdoor import INVOKE_PATH

    handler, _ = create_handler(app, app.state.services)

    class Invoke(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            event = json.loads(self.rfile.read(int(self.headers["content-length"])))
            assert self.path == INVOKE_PATH, self.path
            body = json.dumps(handler(event, LambdaContext())).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    # A single-threaded server: one invocation at a time, as in one Lambda environment.
    server = HTTPServer(("127.0.0.1", 0), Invoke)

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # Mangum runs the app on this thread's loop
        try:
            server.serve_forever()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="invoke", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def front_door(functions: dict[str, str], default: str = "ner", auth: Any = None) -> Iterator[str]:
    """The project's front door (tools.frontdoor) on 127.0.0.1:<free port>; yields its base URL.

    ``auth``: a ``tools.frontdoor.IamAuth`` checks SigV4 signatures as an AWS_IAM function URL.
    """
    from tools.frontdoor import FrontDoor, Function

    door = FrontDoor(
        ("127.0.0.1", 0),
        {name: Function(name, url) for name, url in functions.items()},
        default,
        timeout=60.0,
        auth=auth,
    )
    thread = threading.Thread(target=door.serve_forever, name="front-door", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{door.server_address[1]}/"
    finally:
        door.shutdown()
        door.server_close()
        thread.join(timeout=10)


@contextmanager
def signing_proxy(argv: list[str]) -> Iterator[str]:
    """tools.proxy (``python -m tools.proxy`` arguments, on a free port) in a thread; yields its
    base URL. It signs with the credentials botocore finds in the environment."""
    from tools.proxy import build

    server = build([*argv, "--port", "0"])
    thread = threading.Thread(target=server.serve_forever, name="signing-proxy", daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _wait(driver: Any, condition: Any, what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS).until(condition, message=f"waiting for {what}")


def open_page(driver: Any, base_url: str) -> None:
    """Load the page and wait until it has read /health and set up its panels."""
    driver.get(base_url)
    _wait(
        driver,
        lambda d: d.execute_script("return document.body.dataset.ready === 'true'"),
        "the page to read /health",
    )


def panel_state(driver: Any, service: str) -> str:
    """``ready`` or ``unavailable`` (as the page decided from /health)."""
    state: str = driver.execute_script(
        "return document.getElementById(arguments[0] + '-panel').dataset.state || ''", service
    )
    return state


def unavailable_message(driver: Any, service: str) -> str:
    from selenium.webdriver.common.by import By

    text: str = driver.find_element(By.ID, f"{service}-unavailable").text
    return text


def _fill(driver: Any, element_id: str, value: str) -> None:
    # send_keys types character by character (slow, and it cannot type every code point);
    # setting the value is what a paste does.
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].value = arguments[1];", element, value)


def _submit_and_wait(driver: Any, prefix: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, f"{prefix}-submit").click()
    _wait(
        driver,
        lambda d: not d.find_element(By.ID, f"{prefix}-submit").get_property("disabled"),
        f"the {prefix} request to finish",
    )


@dataclass(frozen=True)
class ShownError:
    code: str
    message: str


def shown_error(driver: Any, prefix: str) -> ShownError | None:
    """The error box of a panel, or None when it is hidden."""
    data: dict[str, str] | None = driver.execute_script(
        """
        const box = document.getElementById(arguments[0] + '-error');
        if (box.hidden) { return null; }
        const code = box.querySelector('.code');
        return {code: code ? code.textContent : '', message: box.textContent};
        """,
        prefix,
    )
    return None if data is None else ShownError(code=data["code"], message=data["message"])


def submit_ner(driver: Any, text: str) -> list[tuple[str, str]]:
    """Type ``text``, submit, and return the rendered entities as (text, label) pairs."""
    _fill(driver, "ner-text", text)
    _submit_and_wait(driver, "ner")
    pairs: list[list[str]] = driver.execute_script(
        """
        return Array.from(document.querySelectorAll('#ner-result mark.entity')).map(function (m) {
          const text = Array.from(m.childNodes)
            .filter(function (n) { return n.nodeType === Node.TEXT_NODE; })
            .map(function (n) { return n.data; }).join('').trim();
          const label = m.querySelector('span');
          return [text, label ? label.textContent.trim() : ''];
        });
        """
    )
    return [(text, label) for text, label in pairs]


@dataclass(frozen=True)
class ShownAnswer:
    rank: int
    text: str
    score: float  # as the page holds it (data-score)
    shown_score: str  # as the page prints it


def submit_qa(
    driver: Any, question: str, context: str, top_k: int = 3, allow_no_answer: bool = False
) -> list[ShownAnswer]:
    """Fill the QA form, submit, and return the listed answers (best first)."""
    _fill(driver, "qa-question", question)
    _fill(driver, "qa-context", context)
    _fill(driver, "qa-top-k", str(top_k))
    driver.execute_script(
        "document.getElementById('qa-allow-no-answer').checked = arguments[0];", allow_no_answer
    )
    _submit_and_wait(driver, "qa")
    rows: list[list[Any]] = driver.execute_script(
        """
        return Array.from(document.querySelectorAll('#qa-answers li')).map(function (li) {
          return [Number(li.dataset.rank), li.querySelector('.answer-text').textContent,
                  Number(li.dataset.score), li.querySelector('.score').textContent];
        });
        """
    )
    return [
        ShownAnswer(rank=rank, text=text, score=score, shown_score=shown)
        for rank, text, score, shown in rows
    ]


def highlighted_answers(driver: Any) -> list[tuple[int, str]]:
    """The highlighted pieces of the context as (rank, text); rank 1 is the best answer."""
    rows: list[list[Any]] = driver.execute_script(
        """
        return Array.from(document.querySelectorAll('#qa-result mark.answer')).map(function (m) {
          return [Number(m.dataset.rank), m.textContent];
        });
        """
    )
    return [(rank, text) for rank, text in rows]


@dataclass(frozen=True)
class Segment:
    """A piece of the shown context: plain text, or a highlight covering some answers."""

    text: str
    answers: tuple[int, ...]  # ranks (1 = best) of the answers this piece belongs to


def context_segments(driver: Any) -> list[Segment]:
    """The QA result area, piece by piece, in order."""
    rows: list[list[Any]] = driver.execute_script(
        """
        return Array.from(document.getElementById('qa-result').childNodes).map(function (n) {
          return [n.textContent, n.nodeType === Node.ELEMENT_NODE ? n.title : ''];
        });
        """
    )
    return [
        Segment(text=text, answers=tuple(int(r) for r in re.findall(r"answer (\d+) \(", title)))
        for text, title in rows
    ]


def highlighted_ranges(segments: list[Segment]) -> dict[int, tuple[int, int]]:
    """Answer rank -> (start, end) in code points of the context, from the shown segments."""
    ranges: dict[int, tuple[int, int]] = {}
    offset = 0
    for segment in segments:
        end = offset + len(segment.text)
        for rank in segment.answers:
            start = ranges.get(rank, (offset, end))[0]
            ranges[rank] = (start, end)
        offset = end
    return ranges


def console_messages(driver: Any) -> list[str]:
    """Browser console messages since the last call (Chromium clears the log on read)."""
    return [str(entry.get("message", "")) for entry in driver.get_log("browser")]


def csp_violations(messages: list[str]) -> list[str]:
    return [m for m in messages if "Content Security Policy" in m]


def alert_text(driver: Any) -> str | None:
    """The text of an open alert() dialog, or None when there is none."""
    from selenium.common.exceptions import NoAlertPresentException

    try:
        text: str = driver.switch_to.alert.text
    except NoAlertPresentException:
        return None
    return text


def screenshot(driver: Any, name: str) -> Path:
    """Save a full-window screenshot under tests/artifacts/ and return its path."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS_DIR / f"{name}.png"
    # Fit the window to the page (window = viewport + browser frame), from the default width.
    driver.set_window_size(1280, 900)
    frame, height = driver.execute_script(
        "return [window.outerHeight - window.innerHeight, document.documentElement.scrollHeight]"
    )
    driver.set_window_size(1280, int(frame) + int(height) + 8)
    driver.save_screenshot(str(path))
    return path
