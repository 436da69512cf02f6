"""The sample runbooks in ``docs/runbooks/`` (one per built-in rule; ``fallback_volume.md`` is the fallback
SOP), served at ``/runbooks/<rule>`` so the demo's ``rules.<rule>.runbook_url`` links lead somewhere.

They are read from the source checkout; an installation without the ``docs`` folder has none, and a team
points ``rules.<rule>.runbook_url`` at its own wiki instead.
"""

from __future__ import annotations

import re
from pathlib import Path

SAMPLE_RUNBOOKS = Path(__file__).resolve().parents[3] / "docs" / "runbooks"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def sample_runbook(name: str) -> str | None:
    """The text of ``docs/runbooks/<name>.md``, or None when there is no such sample (or no checkout)."""
    if not _NAME.fullmatch(name):
        return None
    path = SAMPLE_RUNBOOKS / f"{name}.md"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def sample_runbook_names() -> list[str]:
    """The rules that have a sample runbook."""
    return sorted(p.stem for p in SAMPLE_RUNBOOKS.glob("*.md")) if SAMPLE_RUNBOOKS.is_dir() else []
