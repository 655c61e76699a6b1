"""The pages in a real browser: headless Chromium (Debian `chromium`) opens
the pages of recorded runs (passing, a failing offsets case, a KASAN
report, a crash) and out/index.html, takes screenshots, and the picture of
the failing case's chunk sequence must be drawn (its chunk and
wrong-row colours present in the screenshot, not a blank area).

Chromium runs with no network use (its background services off, a fresh
profile) and JavaScript off. Skipped, with the reason, only if chromium is
missing and cannot be installed. TGTSIM_UPDATE_SCREENSHOTS=1 copies the
screenshots into docs/ (the ones README.md shows)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from conftest import ROOT
from test_page import make_runs, recorded_run
from tgtsim import report, runindex, svg

DOCS = ROOT / "docs"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
         "--disable-javascript", "--force-device-scale-factor=1"]


def chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cp = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends",
                             "chromium"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=1800)
        found = shutil.which("chromium")
        if found:
            return found
        why = (cp.stdout.strip().splitlines() or ["?"])[-1]
    else:
        why = "not root, cannot apt-get install it"
    pytest.skip(f"chromium (Debian package) is not installed and cannot be installed: {why}")


def screenshot(browser: str, html: Path, png: Path, tmp: Path, height: int = 1500) -> None:
    profile = tmp / f"profile-{png.stem}"
    cmd = [browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size=1100,{height}",
           f"--screenshot={png}", html.resolve().as_uri()]
    cp = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                        timeout=180)
    assert png.is_file(), f"no screenshot from chromium (exit {cp.returncode}):\n{cp.stdout}"


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the RGB(A) rows of an 8-bit, non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and ctype in (2, 6)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = 4 if ctype == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) \
                    & 255
        rows.append(bytes(line) if bpp == 3 else
                    bytes(v for k, v in enumerate(line) if k % 4 != 3))
        prev = line
    return width, height, rows


def count(rows: list[bytes], color: str, tolerance: int = 6) -> int:
    want = tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
    n = 0
    for row in rows:
        for i in range(0, len(row), 3):
            if all(abs(row[i + k] - want[k]) <= tolerance for k in range(3)):
                n += 1
    return n


@pytest.fixture(scope="module")
def browser() -> str:
    return chromium()


def keep(png: Path, name: str) -> None:
    if os.environ.get("TGTSIM_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(png, DOCS / name)


def test_failing_offsets_page_draws_the_chunks(browser: str, kunit_dir: Path,
                                               tmp_path: Path) -> None:
    recorded_run(kunit_dir, tmp_path, "offsets_fail.log")
    html = tmp_path / "out/runs/20261130T100000Z-kunit/index.html"
    png = tmp_path / "fail.png"
    screenshot(browser, html, png, tmp_path, 1900)
    w, h, rows = read_png(png)
    assert w == 1100 and h == 1900
    blue = count(rows, svg.BLUE)
    wrong_rows = count(rows, svg.RED_BG, 2)
    wrong = count(rows, svg.RED, 4)
    assert blue > 2000, f"chunk bars not drawn ({blue} pixels of {svg.BLUE})"
    assert wrong_rows > 2000, f"the wrong chunk's row is not drawn ({wrong_rows} pixels)"
    assert wrong > 600, f"the wrong chunk is not drawn in red ({wrong} pixels)"
    keep(png, "report-fail.png")


@pytest.mark.parametrize("name,log,needle", [
    ("report-pass.png", "pass.log", svg.GREEN),
    ("report-kasan.png", "kasan_uaf.log", "#8b1a1a"),
    ("report-crash.png", "panic.log", "#8b1a1a"),
])
def test_pages_render(browser: str, kunit_dir: Path, tmp_path: Path, name: str, log: str,
                      needle: str) -> None:
    recorded_run(kunit_dir, tmp_path, log)
    png = tmp_path / name
    screenshot(browser, tmp_path / "out/runs/20261130T100000Z-kunit/index.html", png,
               tmp_path, 1000)
    _w, _h, rows = read_png(png)
    white = count(rows, "#ffffff", 3)
    assert white < 1100 * 1000 * 0.97, "blank page"
    assert count(rows, needle, 4) > 200, f"verdict colour {needle} not shown"
    keep(png, name)


def test_index_page_renders(browser: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    names = [f"20261130T1{i:05d}Z-coverage" for i in range(8)]
    make_runs(out, names, failing=(5,))
    report.switch_latest(out, out / "runs" / names[-1])
    index = runindex.update(out, keep=20)
    png = tmp_path / "index.png"
    screenshot(browser, index, png, tmp_path, 900)
    _w, _h, rows = read_png(png)
    assert count(rows, svg.GREEN, 4) > 300      # the passed line and the PASS badges
    assert count(rows, svg.BLUE, 4) > 100       # duration and coverage lines
    keep(png, "report-index.png")
