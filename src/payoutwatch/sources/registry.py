"""Build a configured source by its ``type``, through ``config.SOURCE_TYPES`` (no list of types here)."""

from __future__ import annotations

from payoutwatch.config import SOURCE_TYPES, Settings
from payoutwatch.sources.base import Source


def build_source(name: str, settings: Settings) -> Source:
    config = settings.sources[name]
    return SOURCE_TYPES.lookup(config.type).factory(name, config, settings)
