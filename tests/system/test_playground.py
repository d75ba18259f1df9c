"""End-to-end: the playground page at / in headless Chromium, against a real uvicorn process.

Uses Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). The tiny fixture model
is barely trained, so these tests assert structure and agreement with the API, never which label a
sentence gets. ``UPDATE_SCREENSHOTS=1`` rewrites ``docs/screenshots/`` from a server on the shipped
models (the English checkpoint named by ``SENTIMENT_CHECKPOINT`` when set): the docs show what a
user gets, never the tiny model. Otherwise the screenshots go to a temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urljoin

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from model.languages import language
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,800",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"
UPDATE_SCREENSHOTS = os.environ.get("UPDATE_SCREENSHOTS") == "1"

POSITIVE = "A gorgeous, witty, seductive movie."
NEGATIVE = "Dull, predictable and far too long."
CHINESE = "这部电影太好看了，演员都很棒！"
SCREENSHOT_TEXT = "The acting is superb and the score is lovely, but the plot is a tedious, muddled mess."
API_KEY = "playground-test-key"
WAIT_S = 15.0


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    api_key: str | None = None

    def predict(self, text: str) -> dict[str, Any]:
        """What the API itself answers for `text`, to compare the page with."""
        headers = {"X-API-Key": self.api_key} if self.api_key else {}
        body = {"text": text, "explain": True, "include_hidden": True}
        r = httpx.post(f"{self.url}/predict", json=body, headers=headers, timeout=10)
        return cast(dict[str, Any], r.json())

    def model(self) -> dict[str, Any]:
        headers = {"X-API-Key": self.api_key} if self.api_key else {}
        return cast(dict[str, Any], httpx.get(f"{self.url}/model", headers=headers, timeout=10).json())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(checkpoint: Path, log: Path, api_key: str | None = None, zh_checkpoint: Path | None = None) -> Server:
    """Start a real `uvicorn` process on a free port (not yet ready: see `_wait_ready`)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTIMENT_")}
    env.update(SENTIMENT_CHECKPOINT=str(checkpoint), SENTIMENT_CHECKPOINT_ZH=str(zh_checkpoint or "none"))
    env["SENTIMENT_LOG_LEVEL"] = "warning"
    env["SENTIMENT_MAX_TEXT_CHARS"] = "5000"  # the page reads the configured limit; a small one types fast
    if api_key:
        env["SENTIMENT_API_KEY"] = api_key
    cmd = [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory"]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Server(f"http://127.0.0.1:{port}", process, log, api_key)


def _wait_ready(server: Server, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if server.process.poll() is not None:
            pytest.fail(f"uvicorn exited with {server.process.returncode}:\n{server.log.read_text()}")
        try:
            if httpx.get(f"{server.url}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"uvicorn was not ready in {timeout_s} s:\n{server.log.read_text()}")
        time.sleep(0.1)


def _stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="module")
def launched(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Two services on the tiny model, booting side by side: one open, one that needs `API_KEY`."""
    logs = tmp_path_factory.mktemp("uvicorn")
    both = (_start(tiny_checkpoint, logs / "open.log"), _start(tiny_checkpoint, logs / "keyed.log", api_key=API_KEY))
    try:
        yield both
    finally:
        for s in both:
            _stop(s)


@pytest.fixture(scope="module")
def servers(launched: tuple[Server, Server]) -> tuple[Server, Server]:
    for s in launched:
        _wait_ready(s)
    return launched


@pytest.fixture
def server(servers: tuple[Server, Server]) -> Server:
    return servers[0]


@pytest.fixture
def keyed_server(servers: tuple[Server, Server]) -> Server:
    return servers[1]


@pytest.fixture(scope="module")
def driver(launched: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """One headless Chromium for the module, with a fresh profile and the performance log on.

    Asks for `launched` only so that the services boot while Chromium starts.
    """
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing {missing}: .ci/run installs Debian's chromium and chromium-driver")
        pytest.skip(f"missing {missing}: apt-get install chromium chromium-driver")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield chrome
    finally:
        chrome.quit()


# ---- page helpers ---------------------------------------------------------------------------------


def _wait(driver: webdriver.Chrome, condition: Callable[[webdriver.Chrome], object], what: str) -> None:
    try:
        WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(condition)
    except Exception as exc:  # TimeoutException, or a stale element mid-render
        state = driver.find_element(By.ID, "app").get_attribute("data-state")
        error = driver.find_element(By.ID, "error").text
        raise AssertionError(f"timed out waiting for {what}; page state {state!r}, error {error!r}") from exc


def _open(driver: webdriver.Chrome, server: Server) -> None:
    driver.get(f"{server.url}/")
    _wait(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#facts dd[data-fact]:not([data-fact=model_version])"),
        "facts",
    )


def _set_text(driver: webdriver.Chrome, text: str, *, typed: bool = True) -> None:
    """Type `text` key by key (as a person would), or paste it in one input event."""
    box = driver.find_element(By.ID, "text")
    driver.execute_script("arguments[0].value = ''", box)
    if typed:
        box.send_keys(text)
    else:
        driver.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'))", box, text
        )


def _state(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.ID, "app").get_attribute("data-state") or ""


def _wait_for_result(driver: webdriver.Chrome, expected: dict[str, Any]) -> list[WebElement]:
    """Wait until the page shows the answer for the whole text (not a stale prefix); its token spans."""
    n = len(expected["explanation"]["tokens"])
    _wait(
        driver,
        lambda d: _state(d) == "ok" and len(d.find_elements(By.CSS_SELECTOR, "#tokens .tok")) == n,
        f"a result with {n} tokens",
    )
    return driver.find_elements(By.CSS_SELECTOR, "#tokens .tok")


def _directions(prediction: dict[str, Any]) -> list[str]:
    """Each token's push, "pos" or "neg": how the running sentiment moved when it was read."""
    ex = prediction["explanation"]
    before = [ex["baseline_sentiment"]] + [t["sentiment"] for t in ex["tokens"][:-1]]
    return ["pos" if t["sentiment"] - b >= 0 else "neg" for t, b in zip(ex["tokens"], before, strict=True)]


def _rgba(colour: str) -> tuple[float, float, float, float]:
    parts = [float(x) for x in re.findall(r"[\d.]+", colour)]
    return (parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0)


def _points(path_d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML]\s*(-?[\d.]+),(-?[\d.]+)", path_d)]


def _request_urls(driver: webdriver.Chrome) -> list[str]:
    """URLs of every request the page sent since the last call (Chrome's performance log)."""
    entries = cast(list[dict[str, Any]], driver.get_log("performance"))  # type: ignore[no-untyped-call]
    urls = []
    for entry in entries:
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(str(message["params"]["request"]["url"]))
    return urls


# ---- tests ----------------------------------------------------------------------------------------


def test_page_shows_label_tokens_chart_hidden_state_and_model_facts(driver: webdriver.Chrome, server: Server) -> None:
    _request_urls(driver)  # drop what earlier tests logged
    _open(driver, server)
    info = server.model()
    arch = info["architecture"]

    for text in (POSITIVE, NEGATIVE, CHINESE):
        _set_text(driver, text)
        expected = server.predict(text)
        tokens = _wait_for_result(driver, expected)
        explained = expected["explanation"]["tokens"]

        assert driver.find_element(By.ID, "label").get_attribute("data-label") == expected["label"]
        score = driver.find_element(By.ID, "score").text
        assert abs(float(score.rstrip("%")) - 100 * expected["score"]) < 0.051
        assert f"({expected['language']})" in driver.find_element(By.ID, "language").text
        assert driver.find_element(By.ID, "tokens").get_attribute("lang") == expected["language"]
        assert f"{len(text)} / 5,000 characters" in driver.find_element(By.ID, "counter").text

        # Tokens: the model's tokens, unknown ones dashed, coloured by direction toward positive/negative.
        assert [t.text for t in tokens] == [t["text"] for t in explained]
        assert [span.get_attribute("data-direction") for span in tokens] == _directions(expected)
        for span, tok in zip(tokens, explained, strict=True):
            direction = span.get_attribute("data-direction")
            r, _, b, alpha = _rgba(span.value_of_css_property("background-color"))
            assert alpha > 0.05, "token spans are coloured"
            assert (b > r) if direction == "pos" else (r > b), "blue pushes toward positive, red toward negative"
            dashed = span.value_of_css_property("text-decoration-style") == "dashed"
            assert dashed == (not tok["known"])
            assert ("tok-unknown" in (span.get_attribute("class") or "").split()) == (not tok["known"])

        # The chart: one point per token, a higher running sentiment drawn higher, and the 0 line midway.
        path = driver.find_element(By.CSS_SELECTOR, "#chart svg path.line")
        points = _points(path.get_attribute("d") or "")
        assert len(points) == len(explained)
        probs = [t["sentiment"] for t in explained]
        for (_, yi), pi in zip(points, probs, strict=True):
            for (_, yj), pj in zip(points, probs, strict=True):
                if pi - pj > 0.01:
                    assert yi < yj
        axis_y = [float(a.get_attribute("y1") or "nan") for a in driver.find_elements(By.CSS_SELECTOR, "#chart .axis")]
        mid_y = float(driver.find_element(By.CSS_SELECTOR, "#chart .midline").get_attribute("y1") or "nan")
        assert len(axis_y) == 2
        assert mid_y == pytest.approx(sum(axis_y) / 2)

        # h_n: one strip per layer and direction, hidden_size cells each, values on hover.
        states = driver.find_elements(By.CSS_SELECTOR, "#hidden .state")
        assert len(states) == arch["num_layers"] * arch["num_directions"]
        for state, summary in zip(states, expected["hidden_state"]["states"], strict=True):
            cells = state.find_elements(By.CSS_SELECTOR, ".cell")
            assert len(cells) == arch["hidden_size"]
            shown = [float((c.get_attribute("title") or "").split(":")[1]) for c in cells]
            assert shown == pytest.approx(summary["values"], abs=2e-3)
            stats = state.find_element(By.CSS_SELECTOR, ".state-stats").text
            assert "‖h‖" in stats
            assert "mean" in stats
            assert "std" in stats

    # The footer: architecture and test accuracy from GET /model, and working links to the docs.
    facts = {
        dd.get_attribute("data-fact"): dd.text for dd in driver.find_elements(By.CSS_SELECTOR, "#facts dd[data-fact]")
    }
    for key in ("input_size", "hidden_size", "num_layers"):
        assert facts[key] == str(arch[key])
    assert facts["bidirectional"] == str(arch["bidirectional"]).lower()
    assert facts["nonlinearity"] == "tanh"
    assert facts["test_accuracy"] == f"{100 * info['metrics']['test']['accuracy']:.1f}%"
    hrefs = [a.get_attribute("href") or "" for a in driver.find_elements(By.CSS_SELECTOR, "footer a")]
    assert [h.removeprefix(server.url) for h in hrefs] == ["/docs", "/redoc"]
    for href in hrefs:
        assert httpx.get(href, timeout=10).status_code == 200

    # Same-origin only: every request the page made went to the service (or is inline data).
    urls = _request_urls(driver)
    assert f"{server.url}/predict" in urls
    assert f"{server.url}/static/playground.js" in urls
    assert [u for u in urls if not (u.startswith(f"{server.url}/") or u.startswith("data:"))] == []
    resources = cast(list[str], driver.execute_script("return performance.getEntries().map(e => e.name)"))
    assert [u for u in resources if u.startswith("http") and not u.startswith(f"{server.url}/")] == []


# Swaps the real /predict answer for the equivalent answer about the other label: the label, its score
# and the sign of every contribution (log-odds of "negative" = -log-odds of "positive").
_MIRROR_PREDICT_JS = """
(() => {
  const realFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const res = await realFetch(input, init);
    if (!String(input).endsWith("predict") || !res.ok) return res;
    const body = await res.json();
    const other = Object.keys(body.probabilities).find((label) => label !== body.label);
    body.label = other;
    body.score = body.probabilities[other];
    body.explanation.baseline = -body.explanation.baseline;
    for (const t of body.explanation.tokens) t.contribution = -t.contribution;
    return new Response(JSON.stringify(body), { headers: { "Content-Type": "application/json" } });
  };
})();
"""


def test_a_review_of_several_sentences_shows_each_sentence(driver: webdriver.Chrome, server: Server) -> None:
    text = "The package arrived on Tuesday. The screen is bright and sharp.\nSadly the battery died within a week."
    _open(driver, server)
    _set_text(driver, text)
    headers = {"X-API-Key": server.api_key} if server.api_key else {}
    body = {"text": text, "explain": True, "include_hidden": True, "sentences": True}
    expected = httpx.post(f"{server.url}/predict", json=body, headers=headers, timeout=10).json()
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sentences .sentence")) == 3, "three sentences")
    items = driver.find_elements(By.CSS_SELECTOR, "#sentences .sentence")
    assert [i.text for i in items] == [text[s["start"] : s["end"]] for s in expected["sentences"]]
    assert [i.get_attribute("data-label") for i in items] == [s["label"] for s in expected["sentences"]]
    assert driver.find_element(By.ID, "label").get_attribute("data-label") == expected["label"]
    # Each sentence is explained on its own: the page shows all their tokens in order.
    tokens = [t["text"] for s in expected["sentences"] for t in s["explanation"]["tokens"]]
    assert [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#tokens .tok")] == tokens
    _set_text(driver, POSITIVE)
    _wait_for_result(driver, server.predict(POSITIVE))
    assert not driver.find_element(By.ID, "sentences-box").is_displayed()


def test_token_direction_does_not_depend_on_which_label_won(driver: webdriver.Chrome, server: Server) -> None:
    """The tiny model calls most texts positive; this shows the page the same answer as a "negative" one."""
    script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _MIRROR_PREDICT_JS})
    try:
        _open(driver, server)
        _set_text(driver, NEGATIVE)
        real = server.predict(NEGATIVE)
        tokens = _wait_for_result(driver, real)
        other = next(label for label in real["probabilities"] if label != real["label"])
        assert driver.find_element(By.ID, "label").get_attribute("data-label") == other
        assert [span.get_attribute("data-direction") for span in tokens] == _directions(real)
    finally:
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})


def test_errors_are_shown_readably(driver: webdriver.Chrome, server: Server) -> None:
    _open(driver, server)
    _set_text(driver, POSITIVE)
    _wait_for_result(driver, server.predict(POSITIVE))
    too_long = "a" * 5001
    _set_text(driver, too_long, typed=False)
    _wait(driver, lambda d: _state(d) == "error", "the 422 error")
    error = driver.find_element(By.ID, "error")
    assert error.get_attribute("data-status") == "422"
    assert driver.find_elements(By.CSS_SELECTOR, "#tokens .tok, #chart svg, #hidden .state") == [], "no stale result"
    assert driver.find_element(By.ID, "label").get_attribute("data-label") == ""
    problem = httpx.post(f"{server.url}/predict", json={"text": too_long}, timeout=10).json()
    assert "the limit is 5000" in problem["detail"]
    assert error.text == f"{problem['title']} (422)\n{problem['detail']}"
    counter = driver.find_element(By.ID, "counter")
    assert counter.text == "5,001 / 5,000 characters"
    assert counter.get_attribute("data-over") == "true"

    # Fixing the text clears the error.
    _set_text(driver, POSITIVE)
    _wait_for_result(driver, server.predict(POSITIVE))
    assert not error.is_displayed()

    # A network failure is reported, not swallowed.
    driver.execute_cdp_cmd("Network.enable", {})
    offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", offline)
    try:
        _set_text(driver, NEGATIVE)
        _wait(driver, lambda d: _state(d) == "error", "the network error")
        assert error.get_attribute("data-status") == "network"
        assert "Could not reach the service" in error.text
    finally:
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {**offline, "offline": False})


def test_api_key_is_asked_for_and_then_used(driver: webdriver.Chrome, keyed_server: Server) -> None:
    _open(driver, keyed_server)
    assert driver.find_element(By.CSS_SELECTOR, "#facts dd[data-fact=error]").text == "needs the API key"
    _set_text(driver, POSITIVE)
    _wait(driver, lambda d: _state(d) == "error", "the 401 message")
    error = driver.find_element(By.ID, "error")
    assert error.get_attribute("data-status") == "401"
    assert "This service needs an API key" in error.text

    key_box = driver.find_element(By.ID, "api-key")
    assert key_box.is_displayed(), "the key field is opened for the user"
    key_box.send_keys(API_KEY)
    _wait_for_result(driver, keyed_server.predict(POSITIVE))
    assert not error.is_displayed()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#facts dd[data-fact=hidden_size]"), "model facts")
    assert driver.execute_script("return sessionStorage.getItem('sentiment-rnn.apiKey')") == API_KEY

    driver.refresh()  # remembered for the tab's session
    assert driver.find_element(By.ID, "api-key").get_attribute("value") == API_KEY


def test_keyboard_only_use(driver: webdriver.Chrome, server: Server) -> None:
    _open(driver, server)
    assert driver.find_element(By.ID, "summary").get_attribute("aria-live") == "polite"
    assert driver.find_element(By.CSS_SELECTOR, "label[for=text]").text == "Text to classify"
    describe = "const e = document.activeElement; return e.id || e.textContent.replace(/\\s+/g, ' ').trim()"
    order = []
    for _ in range(12):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        order.append(driver.execute_script(describe))
    assert order == [
        "Skip to the text box",
        "text",
        "gorgeous, witty",
        "dull, too long",
        "mixed",
        "but",
        "although",
        "no sentiment",
        "中文",
        "API key (optional)",
        "API docs (Swagger UI)",
        "API reference (ReDoc)",
    ]

    # Back to an example button: it shows a focus ring, and Enter runs it.
    for _ in range(8):
        ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    button = driver.switch_to.active_element
    assert button.text == "dull, too long"
    assert button.value_of_css_property("outline-style") == "solid"
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    _wait_for_result(driver, server.predict(button.get_attribute("data-text") or ""))
    assert driver.switch_to.active_element.get_attribute("id") == "text"

    # The API key field is reachable too: open its disclosure with the keyboard.
    driver.find_element(By.CSS_SELECTOR, "#api-key-box summary").send_keys(Keys.SPACE)
    ActionChains(driver).send_keys(Keys.TAB).perform()
    assert driver.switch_to.active_element.get_attribute("id") == "api-key"


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return int(width), int(height)


@pytest.fixture
def screenshot_server(server: Server, tmp_path: Path) -> Iterator[Server]:
    """The module's server, or with UPDATE_SCREENSHOTS=1 one on the shipped models."""
    if not UPDATE_SCREENSHOTS:
        yield server
        return
    checkpoint = Path(os.environ.get("SENTIMENT_CHECKPOINT") or language("en").checkpoint_path)
    real = _start(checkpoint, tmp_path / "server.log", zh_checkpoint=language("zh").checkpoint_path)
    try:
        _wait_ready(real)
        yield real
    finally:
        _stop(real)


@pytest.mark.parametrize(
    ("name", "width", "height", "mobile"), [("laptop", 1280, 800, False), ("phone", 390, 844, True)]
)
def test_screenshots_and_no_horizontal_scroll(
    driver: webdriver.Chrome,
    screenshot_server: Server,
    tmp_path: Path,
    name: str,
    width: int,
    height: int,
    mobile: bool,
) -> None:
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        _open(driver, screenshot_server)
        _set_text(driver, SCREENSHOT_TEXT)
        _wait_for_result(driver, screenshot_server.predict(SCREENSHOT_TEXT))
        assert driver.execute_script("return window.innerWidth") == width
        scroll_width = driver.execute_script("return document.documentElement.scrollWidth")
        assert scroll_width <= width, "nothing overflows sideways"
        out = SCREENSHOTS if UPDATE_SCREENSHOTS else tmp_path
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"playground-{name}.png"
        driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")  # no caret in the picture
        assert driver.save_screenshot(str(path))
        assert _png_size(path) == (width, height)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_page_assets_are_relative_and_served(server: Server) -> None:
    """The page uses relative URLs so that it also works behind a path prefix."""
    html = httpx.get(f"{server.url}/", timeout=10).text
    for ref in re.findall(r'(?:href|src)="([^"#]+)"', html):
        if ref.startswith("data:"):
            continue
        assert not ref.startswith(("/", "http:", "https:")), ref
        assert httpx.get(urljoin(f"{server.url}/", ref), timeout=10).status_code == 200, ref
