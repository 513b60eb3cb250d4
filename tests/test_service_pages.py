"""The pages people read, in a real headless Chromium: the service's pages (a real `refbp serve`
process) and the static report.html that `run`, `verify` and `check` write with the same
templates. No console errors, the verdict and the failing case in the first screen, no
horizontal scrolling at 1400 px, links that open their case, sortable columns. Screenshots
go to the test's tmp folder."""

from __future__ import annotations

import copy
import json
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from browser import HEIGHT, chromium, console_errors, wait_for
from refbp.bench.service import result_document
from refbp.cases import SUITE_DIR
from refbp.check.suite import run_suite
from refbp.check.verify import verify_results
from refbp.report.write import write_report
from refbp.store import keep_run
from service_server import AUTH, service_process

RNN_CASE = SUITE_DIR / "rnn" / "rnn-scalar-by-hand.json"


def transposed(document):
    wrong = copy.deepcopy(document)
    wrong["grads"]["layers.0.weight"] = [list(r) for r in zip(*wrong["grads"]["layers.0.weight"])]
    return wrong


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The server with three stored runs (one passing, one failing, one of an RNN case and a failing
    result), a written report of the third, and a browser."""
    folder = tmp_path_factory.mktemp("pages")
    correct = result_document("seed-2-2-2")
    with service_process(folder) as (base, _process):
        runs = {}
        for name, document in (("passed", correct), ("failed", transposed(correct))):
            answer = httpx.post(f"{base}/v1/verify", json=document, headers=AUTH, timeout=60)
            assert answer.status_code == 200, answer.text
            runs[name] = answer.headers["X-Refbp-Run"]
        (folder / "wrong.json").write_text(json.dumps(transposed(correct)))
        run = run_suite([RNN_CASE], progress=False)
        run.verdicts += verify_results([folder / "wrong.json"]).verdicts
        report = write_report(run, folder / "reports")
        runs["mixed"], _ = keep_run(run, "run", url=f"sqlite:///{folder / 'verdicts.sqlite'}")  # the server's store
        with chromium() as driver:
            yield {"base": base, "runs": runs, "report": report, "driver": driver, "shots": folder}


def load(site, url, name):
    driver = site["driver"]
    driver.get(url)
    driver.save_screenshot(str(site["shots"] / f"{name}.png"))
    assert not console_errors(driver), console_errors(driver)
    width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"horizontal scrolling: the page is {width[0]} px wide in a {width[1]} px window"
    return driver


def top(driver, selector) -> float:
    return driver.execute_script(f"return document.querySelector('{selector}').getBoundingClientRect().top")


def test_the_index_lists_the_stored_runs(site):
    driver = load(site, site["base"] + "/", "index")
    links = [a.get_attribute("href") for a in driver.find_elements("css selector", "table a")]
    assert all(any(link.endswith(f"/runs/{run}") for link in links) for run in site["runs"].values())


def test_a_failed_run_shows_the_verdict_and_the_failing_rows_first(site):
    driver = load(site, f"{site['base']}/runs/{site['runs']['failed']}", "run-failed")
    assert driver.find_element("id", "verdict").text.startswith("FAIL")
    assert top(driver, "#failing") < HEIGHT / 2
    failing = driver.find_element("css selector", "#failing table").text
    assert "layers.0.weight" in failing and "difference" in failing
    numbers = [word for word in failing.split() if word.lstrip("-").startswith("0.0")]
    assert any(len(word.lstrip("-")) >= 15 for word in numbers), f"values not in full precision: {numbers}"
    assert driver.find_elements("css selector", "#pictures img")


def test_a_case_link_opens_its_section(site):
    driver = load(site, f"{site['base']}/runs/{site['runs']['passed']}", "run-passed")
    section = driver.find_element("id", "case-seed-2-2-2")
    assert section.get_attribute("open") is None  # a passing case starts collapsed
    driver.find_element("css selector", "#cases a[href='#case-seed-2-2-2']").click()
    assert section.get_attribute("open") is not None
    assert 0 <= top(driver, "#case-seed-2-2-2") < HEIGHT


def test_columns_sort(site):
    driver = load(site, site["report"].as_uri() + "/report.html", "report")
    column = driver.find_elements("css selector", "#cases th")
    checks = next(th for th in column if th.text.startswith("checks"))
    index = column.index(checks)

    def values():
        return [
            float(row.find_elements("css selector", "td")[index].text)
            for row in driver.find_elements("css selector", "#cases tbody tr")
        ]

    checks.click()
    assert values() == sorted(values()) and checks.get_attribute("aria-sort") == "ascending"
    checks.click()
    assert values() == sorted(values(), reverse=True)


def test_the_written_report_opens_with_the_verdict_and_the_failing_case(site):
    driver = load(site, site["report"].as_uri() + "/report.html", "report-top")
    assert driver.find_element("id", "verdict").text.startswith("FAIL: 1/2 cases passed")
    assert top(driver, "#failing article") < HEIGHT
    assert "seed-2-2-2" in driver.find_element("css selector", "#failing article").text
    driver.find_element("css selector", "#cases a[href='#case-rnn-scalar-by-hand']").click()
    plot = driver.find_element("css selector", "#case-rnn-scalar-by-hand img")
    assert driver.execute_script("return arguments[0].naturalWidth", plot) > 0


def test_the_compare_and_api_pages(site):
    runs = ",".join(site["runs"].values())
    driver = load(site, f"{site['base']}/compare?runs={runs}", "compare")
    image = driver.find_element("css selector", "img")
    assert driver.execute_script("return arguments[0].naturalWidth", image) > 0
    assert "FAIL" in driver.find_element("css selector", "table").text
    driver = load(site, site["base"] + "/docs", "docs")
    assert "/v1/verify" in driver.find_element("css selector", "table").text


def test_the_index_compares_the_ticked_runs(site):
    driver = load(site, site["base"] + "/", "index-compare-form")
    runs = sorted(site["runs"].values())
    for run in runs:
        driver.find_element("css selector", f"input[type=checkbox][name=runs][value='{run}']").click()
    driver.find_element("css selector", "form#compare-runs button[type=submit]").click()
    wait_for(
        driver,
        lambda d: (
            urlparse(d.current_url).path == "/compare" and d.execute_script("return document.readyState") == "complete"
        ),
    )
    assert sorted(parse_qs(urlparse(driver.current_url).query)["runs"]) == runs
    driver.save_screenshot(str(site["shots"] / "compare-from-form.png"))
    assert not console_errors(driver), console_errors(driver)
    cases = driver.find_element("css selector", "table").text
    assert "seed-2-2-2" in cases and "FAIL" in cases
    headings = [h.text for h in driver.find_elements("css selector", "h2")]
    assert headings[:2] == ["Cases", "Every row side by side"]
    image = driver.find_element("css selector", "img")
    assert driver.execute_script("return arguments[0].naturalWidth", image) > 0


@pytest.mark.parametrize("where", ["stored", "written"])
def test_a_run_page_draws_the_rnn_through_time_and_the_diagnosis(site, where):
    """/runs/{id} from the store and the written report.html: the same templates, the same content."""
    url = (
        f"{site['base']}/runs/{site['runs']['mixed']}"
        if where == "stored"
        else site["report"].as_uri() + "/report.html"
    )
    driver = load(site, url, f"run-mixed-{where}")
    driver.find_element("css selector", "#cases a[href='#case-rnn-scalar-by-hand']").click()
    plot = driver.find_element("css selector", "#case-rnn-scalar-by-hand img")
    assert plot.get_attribute("alt") == "||dE/dh_t|| of rnn-scalar-by-hand (log scale)"
    assert driver.execute_script("return arguments[0].naturalWidth", plot) > 0
    diagnosis = driver.find_element("css selector", "#failing ul.diagnosis").text
    assert "Looks like: layers.0.weight:" in diagnosis and "transpose" in diagnosis
