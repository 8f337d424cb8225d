"""The documentation site builds with MkDocs in strict mode: no warning, so no broken link,
no missing anchor and no page left out of the navigation.

``mkdocs.yml`` sits at the repository root; the pages are ``docs/``. The build runs in a
subprocess into a temporary folder, as ``mkdocs build --strict`` would in CI. Skipped, with
the install line, where MkDocs or its Material theme is missing (the ``docs`` and ``dev``
extras hold both).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "mkdocs.yml"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="mkdocs and mkdocs-material are not installed: pip install -e '.[docs]'",
)


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of ``config`` into ``site``."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
         "--site-dir", str(site)],
        capture_output=True, text=True, env=env, timeout=300,
    )


def nav_pages() -> list[str]:
    """The page paths that ``mkdocs.yml``'s nav names."""
    return re.findall(r":\s+([\w/.-]+\.md)\s*$", CONFIG.read_text(encoding="utf-8"), re.M)


def test_site_builds_without_warnings(tmp_path):
    result = build(CONFIG, tmp_path / "site")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert set(nav_pages()) == pages, "every page is in the nav, and every nav entry is a page"
    for page in pages:
        assert (tmp_path / "site" / page.replace(".md", ".html")).is_file(), page
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "./run demo" in home and "guides/train.html" in home


def test_a_broken_link_fails_the_build(tmp_path):
    """Strict mode is on: the same site with one link to a missing anchor does not build."""
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(CONFIG, tmp_path / "mkdocs.yml")
    page = tmp_path / "docs" / "glossary.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n[gone](cli.md#no-such-command)\n",
                    encoding="utf-8")
    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert "no-such-command" in result.stdout + result.stderr
