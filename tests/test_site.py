"""The built site reads offline: every page opened in headless Chromium with the network cut.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); where they are
missing the test says so and skips.
"""
import json
import shutil

import pytest

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
LOCAL = ("file:", "data:", "blob:", "about:", "chrome:", "devtools:")


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip("headless Chromium is not installed: `apt-get install chromium chromium-driver` "
                    "(Debian; .ci/run does this)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                # no network: every host unresolvable and every proxied request refused
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost", "--proxy-server=http://127.0.0.1:9",
                "--allow-file-access-from-files"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def _requests(driver):
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


WAIT_FOR_MATH = """
const done = arguments[arguments.length - 1];
const start = Date.now();
if (!document.querySelector('.math')) { done('no math'); return; }
(function poll() {
  try {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(() => done('typeset'), e => done('error: ' + e));
      return;
    }
  } catch (e) { done('error: ' + e); return; }
  if (Date.now() - start > 30000) { done(window.MathJax ? 'not started' : 'absent'); return; }
  setTimeout(poll, 100);
})();
"""

CHECK = """
const imgs = Array.from(document.querySelectorAll('img'));
return {
  text: document.body.innerText,
  math: document.querySelectorAll('mjx-container').length,
  mathSource: document.querySelectorAll('.math').length,
  images: imgs.length,
  broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
  tables: document.querySelectorAll('table').length,
  figureNumbers: Array.from(document.querySelectorAll('.caption-number')).filter(e => e.offsetParent !== null).length,
};
"""


@pytest.mark.slow
def test_every_page_renders_offline(smoke_site, browser):
    html = smoke_site / "_build" / "html"
    pages = sorted(p for p in html.glob("*.html") if p.name not in ("genindex.html", "search.html"))
    assert len(pages) >= 7
    seen_math = 0
    for page in pages:
        browser.get_log("performance")  # drop the previous page's log
        browser.get(page.as_uri())
        state = browser.execute_async_script(WAIT_FOR_MATH)
        got = browser.execute_script(CHECK)
        remote = [u for u in _requests(browser) if not u.startswith(LOCAL)]
        assert not remote, f"{page.name} asked the network for {remote}"
        assert not got["broken"], f"{page.name}: images that did not load: {got['broken']}"
        assert not got["figureNumbers"], f"{page.name}: a 'Fig. N' shows beside the papers' figure names"
        if got["mathSource"]:
            assert state == "typeset", f"{page.name}: MathJax did not run ({state})"
            assert got["math"] >= got["mathSource"], f"{page.name}: math left untypeset"
            seen_math += 1
        for raw in ("\\(", "\\[", "$$"):
            assert raw not in got["text"], f"{page.name}: raw TeX {raw!r} visible"
    assert seen_math >= 3, "the pages with equations were not checked"


SCRUB_STATE = """
return Array.from(document.querySelectorAll('.tp-scrub')).map(box => ({
  label: box.dataset.label,
  shown: box.dataset.shown,
  frames: box.querySelectorAll('img.tp-frame').length,
  visible: Array.from(box.querySelectorAll('img.tp-frame')).filter(i => !i.hidden && i.naturalWidth > 0)
             .map(i => i.getAttribute('src').slice(-64)),
  value: box.querySelector('output.tp-value').textContent,
  disabled: box.querySelector('input.tp-slider').disabled,
}));
"""


@pytest.mark.slow
def test_movable_figures_move_offline_with_the_keyboard(smoke_site, browser):
    """Each movable figure (cone: τ and t; chaos: t0; linear: switch t) is driven in headless
    Chromium with the network cut: focus its slider, press the arrow keys and Home, and the frame
    shown changes, with no request leaving the site."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    html = smoke_site / "_build" / "html"
    expected = {"cone.html": ["τ", "t"], "chaos.html": ["t0"], "linear.html": ["switch t"]}
    assert (html / "_static" / "scrub.js").exists()
    for name, labels in expected.items():
        browser.get_log("performance")
        browser.get((html / name).as_uri())
        before = browser.execute_script(SCRUB_STATE)
        assert [b["label"] for b in before] == labels, name
        sliders = browser.find_elements(By.CSS_SELECTOR, "input.tp-slider")
        for k, (slider, state) in enumerate(zip(sliders, before)):
            assert not state["disabled"] and state["frames"] >= 2 and len(state["visible"]) == 1, (name, state)
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", slider)
            slider.send_keys(Keys.HOME)
            first = browser.execute_script(SCRUB_STATE)[k]
            slider.send_keys(Keys.ARROW_RIGHT)
            moved = browser.execute_script(SCRUB_STATE)[k]
            assert first["shown"] == "0" and moved["shown"] == "1", (name, first, moved)
            assert moved["visible"] != first["visible"] and moved["value"] != first["value"], (name, moved)
            assert len(moved["visible"]) == 1
        remote = [u for u in _requests(browser) if not u.startswith(LOCAL)]
        assert not remote, f"{name} asked the network for {remote}"


@pytest.mark.slow
def test_site_size_stays_small(smoke_site):
    """The static site (frames included) stays far below 50 MB; the default build is measured by
    benchmarks/build.py."""
    html = smoke_site / "_build" / "html"
    size = sum(p.stat().st_size for p in html.rglob("*") if p.is_file())
    assert size < 50e6, f"{size / 1e6:.1f} MB"
