"""The HTML reports in a real headless Chromium, as a user opens them: the page renders (a screenshot of it,
kept in ``$PROVER_SCREENSHOT_DIR`` when set, to look at), the theorem table's script runs, a click on a column
header sorts the rows and the status filter hides rows. Skipped when no Chromium is installed (Debian:
``apt-get install chromium``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_report_html import _fresh_markers, _run, _two_runs  # noqa: F401 - the fixture is used by name

from prover.batch.compare import write_comparison
from prover.batch.report import write_report

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="needs Chromium (Debian: apt-get install chromium)")

# Clicks the "time (s)" header twice (descending), records the first row; then filters on "unsolved".
PROBE = """
<script>
const t=document.getElementById('thm');const th=t.tHead.rows[0].cells[4];th.click();th.click();
document.body.dataset.firstBySlowest=t.tBodies[0].rows[0].cells[0].textContent.trim();
const st=document.getElementById('st');st.value='unsolved';st.dispatchEvent(new Event('change'));
document.body.dataset.visible=Array.from(t.tBodies[0].rows).filter(r=>r.style.display!=='none').length;
document.body.dataset.shown=document.getElementById('shown').textContent;
</script>
"""


def _chromium(*args: str, timeout: float = 90.0) -> subprocess.CompletedProcess:
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def _screenshot(page: Path, png: Path, height: int) -> None:
    res = _chromium(f"--screenshot={png}", f"--window-size=1360,{height}", page.as_uri())
    assert png.is_file(), res.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a rendered page, not a blank one
    keep = os.environ.get("PROVER_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)


def test_run_report_in_chromium(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _run(run, {"a": ["proved"], "b": ["failed", "proved"], "c": ["failed"], "d": ["failed"], "e": ["proved"]})
    write_report(run)
    page = run / "report.html"
    _screenshot(page, tmp_path / "report.png", 3200)
    # the table's script ran, and sorting / filtering work in the browser
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _chromium("--dump-dom", probe.as_uri()).stdout
    assert re.search(r"<table id=\"thm\" data-ready=\"1\"", dom), dom[:500]
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-visible="2"' in body and 'data-shown="2 of 5"' in body  # c and d were never proved
    rows = re.findall(r"<tr data-text=\"(\w)[^\"]*\" data-tags=\"[^\"]*\"[^>]*>(.*?)</tr>", dom, re.S)
    times = [float(re.findall(r"<td data-v=\"([^\"]*)\"", cells)[1]) for _, cells in rows]
    assert len(rows) == 5 and times == sorted(times, reverse=True)  # sorted by time, slowest first
    assert f'data-first-by-slowest="{rows[0][0]}' in body


def test_comparison_in_chromium(tmp_path: Path) -> None:
    a, b = _two_runs(tmp_path)
    out = tmp_path / "compare.html"
    write_comparison([a, b], out)
    _screenshot(out, tmp_path / "compare.png", 1700)
