"""The app end to end in headless Chromium: upload a corpus, queue a TopicBERT run with its
BERT-512 baseline and TF-IDF reference, watch all three finish, and read Compare, Topics and Documents.
With --docs-screenshots, a second test draws the README's and docs/' pictures from the real demo instead.

`streamlit run app.py` runs on a free localhost port with a fresh TOPICBERT_HOME; the app
starts its own background worker, which trains the tiny random BERT (tests/conftest.py)
chosen on the Train page as a local folder. A screenshot of every page visited goes to
screenshots/ at the repository root (git-ignored). Whatever happens, the browser, the
server, the worker and any run it started are gone when the test ends.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import helpers
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "screenshots"
DOCS = ROOT / "docs"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WIDTH, HEIGHT, MAX_HEIGHT = 1400, 1000, 6000
CUT_MARGIN = 40  # px of page kept below the element a screenshot stops at
SERVER_START_SECONDS = 60
PAGE_SECONDS = 120
TRAIN_SECONDS = 240
DEMO_SECONDS = 3600  # the real encoder on 400 BBC News articles, three runs, one thread: 30 min on a busy 2-core CPU

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason=f"the browser test needs {CHROMIUM} and {CHROMEDRIVER}, not found"),
]
webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium")
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

# ---------------------------------------------------------------- the server and its processes

def wait_healthy(url: str, server: subprocess.Popen, log: Path, timeout: float = SERVER_START_SECONDS) -> None:
    def healthy() -> bool:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                return response.read().strip() == b"ok"
        except OSError:
            return False
    helpers.wait_for(healthy, "streamlit to answer", timeout, every=0.5, give_up=helpers.ended(server, "streamlit"),
                     context=lambda: log.read_text()[-3000:])


def processes_of(home: Path) -> list:
    """Processes (ours) whose environment names this TOPICBERT_HOME: the server, workers, runners."""
    import psutil
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid != os.getpid() and process.environ().get("TOPICBERT_HOME") == str(home):
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def stop_everything(server: subprocess.Popen, home: Path) -> list:
    """Stop the server's session, the workers and runs the store knows of, then anything else that
    still runs with this home. Returns what could not be stopped."""
    import psutil

    from topicbert.runs.processes import kill_process_group

    groups = [server.pid]  # started in a session of its own: its group is the server alone
    db = home / "topicbert.db"
    if db.exists():
        from topicbert.runs.store import Store
        with Store(db) as store:
            # a worker started by the app leads a session of its own; each run leads its own group
            groups += [w["pid"] for w in store.db.query("SELECT pid FROM workers WHERE pid IS NOT NULL")]
            groups += [r["pgid"] for r in store.db.query("SELECT pgid FROM runs WHERE pgid IS NOT NULL")]
    for pgid in dict.fromkeys(groups):
        try:
            if os.getpgid(pgid) == pgid:  # still a group leader: not a reused pid
                kill_process_group(pgid, grace=5.0)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    left = processes_of(home)
    for process in left:
        process.kill()
    gone, alive = psutil.wait_procs(left, timeout=5)
    return alive


@pytest.fixture
def app_url(tmp_path):
    home = tmp_path / "home"
    port = helpers.free_port()
    env = dict(os.environ, TOPICBERT_HOME=str(home), TOPICBERT_DEVICE="cpu", OMP_NUM_THREADS="1",
               TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    env.pop("TOPICBERT_DEMO_CORPUS", None)
    log = tmp_path / "streamlit.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server, log)
        yield url, home
    finally:
        alive = stop_everything(server, home)
        for name, path in (("streamlit", log), ("worker", home / "logs" / "worker.log")):
            if path.exists():  # shown by pytest when the test fails
                print(f"---- {name} log (tail)\n{path.read_text(errors='replace')[-3000:]}")
        assert not alive, f"processes outlived the test: {alive}"


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-quic", "--no-first-run",
                     "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'chromium'}",
                     f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    except WebDriverException as error:
        pytest.skip(f"chromium did not start: {error.msg}")
    driver.set_window_size(WIDTH, HEIGHT)
    driver.downloads = tmp_path / "downloads"  # where a download button's file lands
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(driver.downloads)})
    try:
        yield driver
    finally:
        driver.quit()


# ---------------------------------------------------------------- driving Streamlit

def script_state(driver) -> str | None:
    return driver.execute_script(
        "const app = document.querySelector('[data-testid=stApp]');"
        "return app ? app.getAttribute('data-test-script-state') : null;")


def wait_idle(driver, timeout: float = PAGE_SECONDS) -> None:
    """Until the script has run and stays done a moment (not initial, running or about to rerun)."""
    deadline = time.monotonic() + timeout
    time.sleep(0.5)  # a click's rerun takes a moment to start
    calm = 0
    while time.monotonic() < deadline:
        calm = calm + 1 if script_state(driver) in ("notRunning", "stopped") else 0
        if calm >= 3:
            return
        time.sleep(0.25)
    raise AssertionError(f"the page was still running after {timeout:.0f} s (state {script_state(driver)})")


def wait_for(driver, condition, what: str, timeout: float = PAGE_SECONDS, every: float = 0.5):
    """helpers.wait_for on the page, whose text a failure shows."""
    def on_page():
        try:
            return condition()
        except StaleElementReferenceException:  # Streamlit re-rendered it meanwhile: not there yet
            return None
    return helpers.wait_for(on_page, what, timeout, every, context=lambda: f"page text:\n{page_text(driver)}")


def open_page(driver, url: str, title: str) -> None:
    driver.get(url)
    wait_for(driver, lambda: any(h.text.strip() == title for h in driver.find_elements(By.TAG_NAME, "h1")),
             f"the page titled {title!r}")
    wait_idle(driver)


def wait_for_charts(driver, count: int, what: str) -> None:
    wait_for(driver, lambda: len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=stPlotlyChart]")) == count, what)


def open_charted_page(driver, url: str, title: str, count: int, what: str) -> None:
    """A page opened with its `count` plotly charts drawn, for a picture of it."""
    open_page(driver, f"{url}/{title}", title)
    wait_for_charts(driver, count, what)
    wait_idle(driver)
    time.sleep(2)  # plotly draws after the script is done


def page_text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def by_label(driver, label: str):
    return driver.find_element(By.CSS_SELECTOR, f'input[aria-label="{label}"]')


def choose(driver, label: str, option: str, startswith: bool = False) -> None:
    """Pick `option` in the selectbox labelled `label` (a BaseWeb combobox and its listbox)."""
    by_label(driver, label).click()
    options = wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[role=option]"),
                       f"the options of {label!r}", timeout=10)
    for element in options:
        text = element.text.strip()
        if text == option or (startswith and text.startswith(option)):
            element.click()
            wait_for(driver, lambda: (by_label(driver, label).get_attribute("value") or "").startswith(option),
                     f"{label!r} set to {option!r}", timeout=10)
            return
    raise AssertionError(f"{option!r} is not among {label!r}'s options: {[e.text for e in options]}")


def type_into(driver, label: str, value: object, shows: str | None = None) -> None:
    """Type `value` into the input labelled `label`; it then reads `shows` (the input's own format)."""
    field = by_label(driver, label)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(str(value))
    field.send_keys(Keys.TAB)  # number and text inputs commit their value on blur
    shows = str(value) if shows is None else shows
    wait_for(driver, lambda: by_label(driver, label).get_attribute("value") == shows,
             f"{label!r} to read {shows!r}", timeout=10)


def click_button(driver, text: str) -> None:
    driver.find_element(By.XPATH, f"//button[.//p[normalize-space()='{text}']]").click()


def alerts(driver) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid=stAlert]")]


def tables(driver) -> list[list[list[str]]]:
    """Every st.dataframe's visible rows as text (header first), from the grid's accessible table."""
    return driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=stDataFrame] table')].map(t =>"
        "  [...t.querySelectorAll('tr')].map(r => [...r.querySelectorAll('th, td')].map(c => c.innerText.trim())));")


def bottom_of(driver, element) -> int:
    """How far down the page `element` ends, in px, however far the page is scrolled."""
    return int(driver.execute_script(
        "const main = document.querySelector('[data-testid=stMain]');"
        "return arguments[0].getBoundingClientRect().bottom + (main ? main.scrollTop : 0) + window.scrollY;",
        element))


def screenshot(driver, name: str, folder: Path = SHOTS, until=None) -> Path:
    """The whole page, or its top down to the element `until`: the window is made as tall as the main column's
    content, then put back."""
    folder.mkdir(exist_ok=True)
    driver.execute_script("document.querySelectorAll('[data-testid=stMain], [data-testid=stAppViewContainer]')"
                          ".forEach(e => e.scrollTo(0, 0)); window.scrollTo(0, 0);")
    height = driver.execute_script(
        "const main = document.querySelector('[data-testid=stMain]');"
        "const block = document.querySelector('[data-testid=stMainBlockContainer]');"
        "return Math.max(main ? main.scrollHeight : 0, block ? block.scrollHeight : 0);")
    driver.set_window_size(WIDTH, min(max(int(height) + 60, HEIGHT), MAX_HEIGHT))
    time.sleep(1.5)  # charts resize to the new window
    if until is not None:  # measured in the tall window, where the page has taken its final layout
        chrome = int(driver.execute_script("return window.outerHeight - window.innerHeight;"))
        driver.set_window_size(WIDTH, bottom_of(driver, until) + chrome + CUT_MARGIN)
        time.sleep(1.5)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(WIDTH, HEIGHT)
    return path


def overflowing_tables(driver) -> list[str]:
    """The tables whose columns run past their frame's right edge (a scroll bar a person may never see), each by
    its header."""
    return driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=stDataFrame]')].filter(t => {"
        "  const s = t.querySelector('.dvn-scroller'); return s && s.scrollWidth > s.clientWidth + 1;"
        "}).map(t => [...t.querySelectorAll('th')].map(c => c.innerText.trim()).join(' | '));")


def visible_without_scrolling(driver, css: str) -> bool:
    """Whether the element `css` lies wholly inside the window as the page opens (scrolled to the top)."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); if (!e) return false;"
        "const r = e.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;",
        css)


def run_rows(driver) -> dict[str, dict[str, str]]:
    """The Runs page's table, by run id: column name -> cell text."""
    for table in tables(driver):
        if table and table[0][:3] == ["id", "run", "status"]:
            header = table[0]
            return {row[0]: dict(zip(header, row, strict=True)) for row in table[1:] if len(row) == len(header)}
    return {}


# ---------------------------------------------------------------- the test

def test_upload_train_and_compare_in_the_browser(app_url, browser, tiny_model_dir, tiny_corpus_csv):
    url, home = app_url
    driver = browser
    started = time.monotonic()

    # home: the app lists the built-in sample and starts a worker
    open_page(driver, url + "/", "TopicBERT Studio")
    wait_for(driver, lambda: "No worker is alive" not in page_text(driver) and "worker 1" in page_text(driver),
             "the worker the app starts", timeout=60)
    screenshot(driver, "1_home")

    # Corpora: upload the CSV, check the columns it guessed, name it and save it
    open_page(driver, url + "/Corpora", "Corpora")
    driver.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(tiny_corpus_csv))
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, 'input[aria-label="Name"]'), "the Name field")
    wait_idle(driver)
    assert by_label(driver, "Text column").get_attribute("value") == "text"
    assert by_label(driver, "Label column").get_attribute("value") == "label"
    wait_for(driver, lambda: "Documents per split" in page_text(driver), "the corpus summary")
    type_into(driver, "Name", "e2e corpus")
    click_button(driver, "Save corpus")
    saved = wait_for(driver, lambda: [a for a in alerts(driver) if "Saved as corpus" in a], "the saved confirmation")
    assert "pick it on the Train page" in saved[0]
    wait_idle(driver)
    assert any(row[1:3] == ["e2e corpus", "90"] for table in tables(driver) for row in table), tables(driver)
    screenshot(driver, "2_corpora")

    # Train: the tiny BERT as a local folder, 2 epochs, 5 topics, a learning rate it learns with in 2 epochs,
    # and the baselines, BERT-512 and the TF-IDF reference (on by default)
    open_page(driver, url + "/Train", "Train")
    choose(driver, "Corpus", "e2e corpus", startswith=True)
    choose(driver, "Encoder", "a local folder")
    type_into(driver, "Hugging Face id or local folder", str(tiny_model_dir))
    type_into(driver, "Epochs", 2)
    type_into(driver, "Topics", 5)
    type_into(driver, "Learning rate (encoder)", "0.001", shows="1.0e-3")
    assert by_label(driver, "Queue with baselines").is_selected()
    click_button(driver, "Queue")
    queued = wait_for(driver, lambda: [a for a in alerts(driver) if a.startswith("Queued")], "the queued message")
    assert "#1, #2 and #3" in queued[0], queued
    wait_idle(driver)
    screenshot(driver, "3_train")
    from topicbert.runs.store import Store
    with Store(home / "topicbert.db") as store:
        runs = {run["id"]: run for run in store.list_runs()}
    assert {i: runs[i]["name"] for i in runs} == {1: "TopicBERT-128", 2: "BERT-512", 3: "TF-IDF"}
    assert runs[1]["paired_run_id"] == 2 == runs[3]["paired_run_id"]
    for run in runs.values():
        assert run["config"]["model"] == str(tiny_model_dir)
        assert (run["config"]["epochs"], run["config"]["n_topics"], run["config"]["lr"]) == (2, 5, 1e-3)

    # Runs: the live table shows all three done (the page refreshes itself every few seconds)
    open_page(driver, url + "/Runs", "Runs")
    seen_running = []
    (SHOTS / "4_runs_running.png").unlink(missing_ok=True)  # taken only if a poll catches a run training

    def all_done() -> bool:
        rows = run_rows(driver)
        statuses = {i: rows[i]["status"] for i in ("1", "2", "3") if i in rows}
        if "running" in statuses.values() and not seen_running:  # the page as it looks while one trains
            seen_running.append(screenshot(driver, "4_runs_running"))
        bad = [i for i, status in statuses.items() if status in ("failed", "interrupted", "cancelled")]
        if bad:
            with Store(home / "topicbert.db") as store:
                errors = {i: store.get_run(int(i))["error"] for i in bad}
            raise AssertionError(f"runs did not finish: {statuses}\n{errors}")
        return statuses == {"1": "done", "2": "done", "3": "done"}
    wait_for(driver, all_done, "the three runs done on the Runs page", timeout=TRAIN_SECONDS, every=2)
    wait_idle(driver)
    assert "Status: done" in page_text(driver)
    assert not overflowing_tables(driver), overflowing_tables(driver)
    screenshot(driver, "4_runs")

    # Home, once the runs ended: one line with the verdict, and a link to Compare
    open_page(driver, url + "/", "TopicBERT Studio")
    wait_for(driver, lambda: "Runs #1, #2, #3 have finished." in page_text(driver), "the line saying the runs ended")
    link = driver.find_element(By.CSS_SELECTOR, "[data-testid=stPageLink] a")
    assert link.get_attribute("href").rstrip("/").endswith("/Compare") and "on Compare" in link.text
    assert not overflowing_tables(driver), overflowing_tables(driver)
    screenshot(driver, "4_home_after_runs")

    # Compare: the three by default, their curves, the summary with intervals against the baseline, F1 against
    # cost on one test set
    link.click()  # Home's link opens Compare
    wait_for(driver, lambda: any(h.text.strip() == "Compare" for h in driver.find_elements(By.TAG_NAME, "h1")),
             "Compare, from Home's link")
    # F1 by epoch and by time, CO2, when to stop, where the topic branch helps, F1 against cost
    wait_for_charts(driver, 6, "six charts")
    wait_idle(driver)
    # the card's sentences, whole, in the window as it opens: no scrolling to the answer
    card = driver.find_element(By.CSS_SELECTOR, ".st-key-compare_card")
    for question in ("As accurate?", "What does it save?", "Sooner to the target?", "Against the cheapest reference?",
                     "What does using it cost?"):
        assert question in card.text, card.text
    assert visible_without_scrolling(driver, ".st-key-compare_card"), card.rect
    assert not overflowing_tables(driver), overflowing_tables(driver)
    # the long explanations wait in one expander
    driver.find_element(By.XPATH, "//summary[.//p[starts-with(normalize-space(), 'How to read these figures')]]")\
        .click()
    wait_idle(driver)
    text = page_text(driver)
    for title in ("Validation macro-F1 by epoch", "Validation macro-F1 by wall time", "Cumulative emissions",
                  "Summary", "When to stop", "Where the topic branch helps", "Test macro-F1 against"):
        assert title in text, title
    assert text.count("would have given validation macro-F1") == 3  # a replay for each run
    verdict = next(t for t in tables(driver) if t and t[0][:2] == ["run", "against the reference"])
    assert verdict[1][1] in ("within noise", "lower beyond the noise", "higher beyond the noise")
    assert verdict[1][1] in card.text  # the card says the table's verdict
    summary = next(t for t in tables(driver) if t and t[0][:2] == ["run", "seeds"])
    assert "F1 retained (%)" in summary[0] and "95% interval" in summary[0]
    assert [row[0] for row in summary[1:]] == ["#1 TopicBERT-128", "#2 BERT-512", "#3 TF-IDF"]
    times = next(t for t in tables(driver) if t and t[0][:2] == ["run", "train time"])
    assert "speedup (x)" in times[0] and "time to target" in times[0]
    costs = next(t for t in tables(driver) if t and t[0][:2] == ["run", "energy"])
    assert "energy used" in costs[0] and "energy saved, read as" in costs[0]
    use = next(t for t in tables(driver) if t and t[0][:2] == ["run", "time per 1k docs"])
    assert "energy per 1k docs" in use[0] and "g CO2e/kWh" in use[0]
    assert "same documents (same corpus, seed and limits)" in text

    # the report: one file that opens with the network cut, holding the card and drawing its charts
    button = driver.find_element(By.XPATH, "//button[.//p[normalize-space()='Download report (HTML)']]")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)  # clear of the sticky header
    button.click()
    saved = wait_for(driver, lambda: list(driver.downloads.glob("*.html")), "the report's download", timeout=60)
    card_text = card.text
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": 0,
                                                                "uploadThroughput": 0})
    driver.get(saved[0].as_uri())
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#verdict-card"), "the report's card", timeout=30)
    shown = driver.find_element(By.CSS_SELECTOR, "#verdict-card").text
    assert "As accurate?" in shown and shown.split("\n")[0] == card_text.split("\n")[0], (shown, card_text)
    wait_for(driver, lambda: len(driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= 6,
             "the report's charts drawn offline", timeout=30)
    assert "The runs' settings" in page_text(driver)
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                                                                "downloadThroughput": -1, "uploadThroughput": -1})
    open_page(driver, url + "/Compare", "Compare")
    screenshot(driver, "5_compare")

    # Topics: the LDAvis map (rendered inside its frame) and one row of top words per topic
    open_page(driver, url + "/Topics", "Topics")
    frame = wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "iframe"), "the topic map's frame")[0]
    driver.switch_to.frame(frame)
    wait_for(driver, lambda: "Intertopic Distance Map" in page_text(driver), "LDAvis drawn")
    driver.switch_to.default_content()
    words = next(t for t in tables(driver) if t and t[0][:2] == ["topic", "top words"])
    assert [row[0] for row in words[1:]] == ["1", "2", "3", "4", "5"]
    assert all(len(row[1].split()) >= 5 for row in words[1:])
    assert "topic diversity" in page_text(driver)
    screenshot(driver, "6_topics")

    # Documents: the test documents, one shown whole with its topic mixture and both models' probabilities
    open_page(driver, url + "/Documents", "Documents")
    wait_for(driver, lambda: "test documents" in page_text(driver), "the document count")
    wait_for_charts(driver, 2, "the topic mixture and the class probabilities")
    shown = driver.find_element(By.CSS_SELECTOR, "[data-testid=stCode]").text.strip()
    corpus_text = tiny_corpus_csv.read_text()
    assert len(shown.split()) >= 12 and shown in corpus_text, shown
    assert "BERT-512 (baseline)" in page_text(driver) or "#2 BERT-512" in page_text(driver)
    assert not overflowing_tables(driver), overflowing_tables(driver)
    screenshot(driver, "7_documents")

    # Home again: the recent runs, all done, and the worker still alive
    open_page(driver, url + "/", "TopicBERT Studio")
    wait_for(driver, lambda: any(len(t) == 4 for t in tables(driver)), "the recent runs")
    assert "No worker is alive" not in page_text(driver)
    screenshot(driver, "8_home_after")

    assert time.monotonic() - started < 600


# ---------------------------------------------------------------- the docs' pictures, from the real demo

def demo_done(home: Path) -> bool:
    """Whether the demo's three runs are done; a failed one fails at once, with its error."""
    from topicbert.runs.store import Store
    with Store(home / "topicbert.db") as store:
        runs = store.list_runs()
    failed = {run["id"]: run["error"] for run in runs if run["status"] in ("failed", "interrupted", "cancelled")}
    assert not failed, f"demo runs did not finish: {failed}"
    return len(runs) == 3 and all(run["status"] == "done" for run in runs)


@pytest.mark.skipif("not config.getoption('--docs-screenshots', default=False)",
                    reason="redraws docs/*.png from the demo only when asked (--docs-screenshots): minutes of training")
@pytest.mark.timeout(DEMO_SECONDS + 600)  # the suite's 900 s would stop the training half way on a busy machine
def test_docs_screenshots_of_the_demo(app_url, browser):
    """What a newcomer sees: "Run the demo" clicked on a fresh Home (the built-in BBC News sample, the default
    encoder), then Home, Compare, Topics and Documents once its runs are done, at 1,400 px, into docs/."""
    url, home = app_url
    driver = browser
    open_page(driver, url + "/", "TopicBERT Studio")
    wait_for(driver, lambda: driver.find_elements(By.XPATH, "//button[.//p[normalize-space()='Run the demo']]"
                                                            "[not(@disabled)]"), "the demo's button", timeout=60)
    click_button(driver, "Run the demo")
    wait_for(driver, lambda: [a for a in alerts(driver) if a.startswith("Queued runs #1")], "the demo queued")
    wait_for(driver, lambda: demo_done(home), "the demo's three runs done", timeout=DEMO_SECONDS, every=5)

    open_page(driver, url + "/", "TopicBERT Studio")
    wait_for(driver, lambda: "Runs #1, #2, #3 have finished." in page_text(driver), "Home's answer")
    wait_idle(driver)
    screenshot(driver, "home", DOCS)

    open_charted_page(driver, url, "Compare", 6, "Compare's six charts")
    # its top: the verdict card, the F1 curves and the cumulative CO2, cut below that third chart
    co2 = driver.find_elements(By.CSS_SELECTOR, "[data-testid=stPlotlyChart]")[2]
    screenshot(driver, "compare", DOCS, until=co2)

    open_page(driver, url + "/Topics", "Topics")
    frame = wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "iframe"), "the topic map's frame")[0]
    driver.switch_to.frame(frame)
    wait_for(driver, lambda: "Intertopic Distance Map" in page_text(driver), "LDAvis drawn")
    driver.switch_to.default_content()
    wait_idle(driver)
    screenshot(driver, "topics", DOCS)

    open_charted_page(driver, url, "Documents", 2, "the topic mixture and the class probabilities")
    screenshot(driver, "documents", DOCS)
