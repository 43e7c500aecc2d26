"""test_report_browser.py: the HTML report, used the way a person uses it.

Builds a runs.db from synthetic run dirs with `lilm runs import`, writes the
report with `lilm report`, opens it in headless Chromium (selenium +
chromium-driver), clicks column headers and checks the row order in both
directions (numbers as numbers, n/a last), follows a run link, checks that the
run page's SVG curves are drawn, that no script error was logged, and saves
screenshots of both pages (their paths are printed; they are kept).

Needs: Debian packages chromium and chromium-driver, pip module selenium.
Without them the test fails (it is never reported as passed).
"""
import os
import shutil
import tempfile

import harness
from harness import case
from test_report_cli import imported_db, lilm

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SHOTS = tempfile.mkdtemp(prefix="lilm-report-shots-")


def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        raise AssertionError("selenium is missing: pip install selenium (and apt-get install chromium chromium-driver)") from e
    if not CHROMIUM or not os.path.exists(DRIVER):
        raise AssertionError("chromium / chromedriver not found: apt-get install chromium chromium-driver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,900", "--hide-scrollbars", "--force-device-scale-factor=1"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=opts)


def column(driver, table_id, col):
    """The data-v values of one column, in the current row order."""
    return driver.execute_script(
        "var c = arguments[1];"
        "return Array.prototype.map.call(document.getElementById(arguments[0]).tBodies[0].rows,"
        " function(r){return r.cells[c].getAttribute('data-v');});", table_id, col)


def header_index(driver, table_id, text):
    heads = driver.execute_script(
        "return Array.prototype.map.call(document.getElementById(arguments[0]).tHead.rows[0].cells,"
        " function(c){return c.textContent;});", table_id)
    return heads.index(text)


def click_header(driver, table_id, col):
    from selenium.webdriver.common.by import By
    driver.find_element(By.CSS_SELECTOR, "#%s thead th:nth-child(%d)" % (table_id, col + 1)).click()


def check_numeric_order(values, descending):
    """Numbers sorted as numbers (not as text), n/a ('') after all of them."""
    nums = [float(v) for v in values if v != ""]
    first_na = values.index("") if "" in values else len(values)
    assert all(v == "" for v in values[first_na:]), ("n/a must come last", values)
    assert nums == sorted(nums, reverse=descending), (values, descending)


def full_page_shot(driver, name):
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 600), 6000))
    path = os.path.join(SHOTS, name)
    driver.save_screenshot(path)
    driver.set_window_size(1280, 900)
    print("screenshot:", path)
    return path


def no_script_errors(driver):
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, errors


@case
def sort_follow_and_draw():
    from selenium.webdriver.common.by import By
    with tempfile.TemporaryDirectory() as tmp:
        db, _ = imported_db(tmp)
        site = os.path.join(tmp, "site")
        lilm("report", "-o", site, "--db", db)
        driver = browser()
        try:
            driver.get("file://" + os.path.join(site, "index.html"))
            assert driver.title == "lilm runs", driver.title
            no_script_errors(driver)

            # leaderboard: the page opens in rank order
            model_col = header_index(driver, "leaderboard", "model")
            assert column(driver, "leaderboard", model_col) == [
                "Compiled baseline", "Latent attention", "Baseline transformer", "Vocab sweep"]
            bpb = header_index(driver, "leaderboard", "BabyLM BPB")
            click_header(driver, "leaderboard", bpb)
            assert [round(float(v), 2) for v in column(driver, "leaderboard", bpb)] == [1.31, 1.32, 1.33, 1.47]
            click_header(driver, "leaderboard", bpb)   # second click reverses
            assert [round(float(v), 2) for v in column(driver, "leaderboard", bpb)] == [1.47, 1.33, 1.32, 1.31]
            ss = header_index(driver, "leaderboard", "SimpleStories BPB")
            for descending in (False, True):
                click_header(driver, "leaderboard", ss)
                vals = column(driver, "leaderboard", ss)
                check_numeric_order(vals, descending)
                assert column(driver, "leaderboard", model_col)[0] == "Baseline transformer"
            click_header(driver, "leaderboard", model_col)
            names = column(driver, "leaderboard", model_col)
            assert names == sorted(names), names
            click_header(driver, "leaderboard", model_col)
            assert column(driver, "leaderboard", model_col) == sorted(names, reverse=True)
            th = driver.find_element(By.CSS_SELECTOR, "#leaderboard thead th:nth-child(%d)" % (model_col + 1))
            assert th.get_attribute("aria-sort") == "descending"

            # all runs: params must sort as numbers (7.3M before 11.0M), BPB n/a last
            for label in ("params", "BPB", "vocab", "steps"):
                col = header_index(driver, "runs", label)
                for descending in (False, True):
                    click_header(driver, "runs", col)
                    check_numeric_order(column(driver, "runs", col), descending)
            col = header_index(driver, "runs", "params")
            click_header(driver, "runs", col)   # ascending again
            assert column(driver, "runs", col)[0] == "7300000", column(driver, "runs", col)
            col = header_index(driver, "runs", "status")
            click_header(driver, "runs", col)
            st = column(driver, "runs", col)
            assert st == sorted(st), st

            # sweep plots are drawn
            for pid in ("plot-autosize", "plot-vocab"):
                svgs = driver.find_elements(By.CSS_SELECTOR, "#%s svg" % pid)
                assert svgs and all(s.size["width"] > 300 and s.size["height"] > 200 for s in svgs), pid
            # put the leaderboard back in rank order for the picture
            rank = header_index(driver, "leaderboard", "rank")
            click_header(driver, "leaderboard", rank)
            index_shot = full_page_shot(driver, "index.png")

            # follow a run link from the leaderboard
            driver.find_element(By.LINK_TEXT, "Latent attention").click()
            assert driver.current_url.endswith("/runs/latent-babylm.html"), driver.current_url
            assert driver.title == "run latent-babylm", driver.title
            no_script_errors(driver)
            lines = driver.find_elements(By.CSS_SELECTOR, "#plot-loss svg path.line")
            assert len(lines) == 2, "train and validation loss curves"
            for ln in lines:
                d = ln.get_attribute("d")
                assert d.startswith("M") and d.count("L") >= 5, d[:80]
                assert ln.size["width"] > 200, ln.size
            ticks = driver.find_elements(By.CSS_SELECTOR, "#plot-loss svg .xticks text")
            assert len(ticks) >= 3, "x axis ticks with labels"
            legend = driver.find_element(By.CSS_SELECTOR, "#plot-loss svg .legend").text
            assert "train loss" in legend and "validation loss" in legend and "full validation" in legend, legend
            assert driver.find_elements(By.CSS_SELECTOR, "#plot-tps svg path.line")
            assert "spaceship" in driver.find_element(By.ID, "samples").text
            run_shot = full_page_shot(driver, "run.png")
            # and back
            driver.find_element(By.LINK_TEXT, "\u2190 all runs").click()
            assert driver.current_url.endswith("/index.html")
            for p in (index_shot, run_shot):
                assert os.path.getsize(p) > 20000, "a blank screenshot?"
        finally:
            driver.quit()


if __name__ == "__main__":
    harness.run()
