"""report.html in a real headless browser (Debian's chromium): at 1280 px the verdict table fits the
window, its badges are coloured, and every image is an inlined data: URI. Skipped without chromium
(CI installs it: .ci/run)."""

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
  const t = document.getElementById('verdict-table').getBoundingClientRect();
  const imgs = [...document.images];
  document.body.setAttribute('data-probe', JSON.stringify({right: t.right, width: window.innerWidth,
    broken: imgs.filter(i => !i.complete || i.naturalWidth === 0 || !i.src.startsWith('data:')).length,
    images: imgs.length}));
});</script></body>"""


def chromium(tmp_path, *args):
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    build_records(root)
    write_report(root, "cpu", SPECS)
    return root / "cpu" / "report.html"


def test_verdict_table_fits_and_images_are_inlined(page, tmp_path):
    probed = tmp_path / "probed.html"        # a copy with a measuring script, alone in its folder
    probed.write_text(page.read_text().replace("</body>", PROBE))
    dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()).stdout
    probe = json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    assert probe["images"] == 8 and probe["broken"] == 0
    assert probe["right"] <= probe["width"]


def test_screenshot_shows_the_verdict_badges(page, tmp_path):
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri())
    pixels = (matplotlib.image.imread(shot)[..., :3] * 255).round().astype(int)
    assert pixels.shape[1] == 1280

    def present(rgb):
        return bool(np.all(np.abs(pixels - np.array(rgb)) <= 3, axis=-1).sum() > 50)

    assert present((0x1a, 0x7f, 0x37)) and present((0xcf, 0x22, 0x2e))   # reproduced, contradicted
