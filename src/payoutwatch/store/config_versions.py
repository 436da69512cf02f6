"""Configuration versions: a fingerprint and a redacted diff whenever a changed configuration is loaded,
so threshold and routing adjustments appear in incident timelines."""

from __future__ import annotations

import difflib
import hashlib
import json
from datetime import datetime

import yaml
from sqlalchemy import Engine, insert, select

from payoutwatch.config import Settings, redacted
from payoutwatch.store.tables import config_versions


def fingerprint(settings: Settings) -> tuple[str, dict[str, object]]:
    shown = redacted(settings)
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest(), shown


def record_config(engine: Engine, settings: Settings, *, origin: str, now: datetime) -> bool:
    """Store this configuration's version if it is new; True when it was."""
    digest, shown = fingerprint(settings)
    with engine.begin() as conn:
        if conn.execute(select(config_versions.c.fingerprint).where(config_versions.c.fingerprint == digest)).first():
            return False
        previous = conn.execute(
            select(config_versions.c.redacted).order_by(config_versions.c.first_seen_at.desc()).limit(1)
        ).scalar()
        diff = None
        if previous is not None:
            before = yaml.safe_dump(previous, sort_keys=True).splitlines()
            after = yaml.safe_dump(shown, sort_keys=True).splitlines()
            diff = "\n".join(difflib.unified_diff(before, after, "before", "after", lineterm="", n=1))
        conn.execute(
            insert(config_versions).values(
                fingerprint=digest, first_seen_at=now, origin=origin[:300], redacted=shown, diff=diff
            )
        )
    return True
