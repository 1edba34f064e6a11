"""report.html in a real headless browser (Debian's chromium): at 1280 px the verdict table fits the
window, its badges are coloured, every image is an inlined data: URI, the first screen (1280 x 900) shows the
scale line, the counts and the start of the verdict table, and no verdict mark needs an emoji font.
Skipped without chromium (CI installs it: .ci/run)."""

import html
import json
import re
import shutil
import subprocess

import matplotlib.image
import numpy as np
import pytest
from fake_results import SPECS, build_records

from repro.report.render import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900"]
PROBE = """<script>window.addEventListener('load', () => {
  const table = document.getElementById('verdict-table');
  const t = table.getBoundingClientRect();
  const top = sel => document.querySelector(sel).getBoundingClientRect().bottom;
  const imgs = [...document.images];
  const rows = [...table.querySelectorAll('tr')]
    .filter(r => r.getBoundingClientRect().bottom <= window.innerHeight);
  document.body.setAttribute('data-probe', JSON.stringify({right: t.right, width: window.innerWidth,
    height: window.innerHeight, scale: top('.scale'), summary: top('.summary'), table: t.top,
    rows_above_fold: rows.length, text: document.body.innerText,
    marks: [...document.querySelectorAll('svg.mark circle')].map(c => c.getAttribute('fill')),
    broken: imgs.filter(i => !i.complete || i.naturalWidth === 0 || !i.src.startsWith('data:')).length,
    images: imgs.length, captions: document.querySelectorAll('figure figcaption').length}));
});</script></body>"""
EMOJI = ("\U0001f7e2", "\U0001f534", "\U0001f7e1", "\u26aa")    # the Markdown's verdict marks


def chromium(tmp_path, *args):
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    build_records(root)
    write_report(root, "cpu", SPECS)
    return root / "cpu" / "report.html"


@pytest.fixture(scope="module")
def probe(page, tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    probed = folder / "probed.html"        # a copy with a measuring script, alone in its folder
    probed.write_text(page.read_text().replace("</body>", PROBE))
    dom = chromium(folder, "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()).stdout
    return json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))


def test_verdict_table_fits_and_images_are_inlined(probe):
    assert probe["images"] == 8 and probe["broken"] == 0
    assert probe["captions"] == 8                       # every figure says what it plots
    assert probe["right"] <= probe["width"] == 1280


def test_the_first_screen_shows_scale_counts_and_the_verdict_table(probe):
    # the visible height of a 1280 x 900 window (less the browser's own bars in headless chromium)
    assert probe["scale"] < probe["summary"] < probe["table"] < probe["height"] <= 900
    assert probe["rows_above_fold"] >= 4                # the head, the spec's row and its first claims
    assert "Judged at cpu scale, not the papers'" in probe["text"]


def test_verdict_marks_need_no_emoji_font(probe, page):
    assert not any(e in probe["text"] for e in EMOJI)
    assert "#1a7f37" in probe["marks"] and "#cf222e" in probe["marks"]    # reproduced, contradicted
    assert any(e in page.with_suffix(".md").read_text() for e in EMOJI)    # the Markdown keeps its marks


def test_screenshot_shows_the_verdict_badges(page, tmp_path):
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri())
    pixels = (matplotlib.image.imread(shot)[..., :3] * 255).round().astype(int)
    assert pixels.shape[1] == 1280

    def present(rgb):
        return bool(np.all(np.abs(pixels - np.array(rgb)) <= 3, axis=-1).sum() > 50)

    assert present((0x1a, 0x7f, 0x37)) and present((0xcf, 0x22, 0x2e))   # reproduced, contradicted
