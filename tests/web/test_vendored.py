"""The vendored libraries are the files their README names (version, licence and sha256), and the app
serves them itself: no page loads a script or a stylesheet from another origin."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import payoutwatch.web

STATIC = Path(payoutwatch.web.__file__).parent / "static"
TEMPLATES = Path(payoutwatch.web.__file__).parent / "templates"


def test_each_vendored_file_has_the_hash_its_readme_records() -> None:
    readme = (STATIC / "vendor" / "README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", readme, re.MULTILINE)
    assert {name for name, _ in rows} == {"uPlot.iife.min.js", "uPlot.min.css"}
    for name, digest in rows:
        assert hashlib.sha256((STATIC / "vendor" / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (STATIC / "vendor" / "uPlot.LICENSE").read_text()


def test_pages_load_scripts_and_styles_only_from_the_app() -> None:
    for template in TEMPLATES.glob("*.html"):
        for url in re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', template.read_text()):
            assert not re.match(r"(https?:)?//", url), f"{template.name} loads {url}"
