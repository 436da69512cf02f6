"""The package's layers point one way: a module imports only from the layers below its own.

The order follows CONVENTIONS.md ("the folders read in the order data flows"): words, instants and
money, records, settings, the schedule, store, sources, figures, rules, notifications, use cases,
reports, the web app, the serve loop, the demo and the CLI. Every import counts, including the ones
made lazily inside a function, except the registry look-ups listed in ``REGISTRY_LOOKUPS``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import payoutwatch

LAYERS = [
    "vocabulary",
    "redaction",
    "plugins",
    "integration_errors",
    "loop_errors",
    "clock",
    "timefmt",
    "money",
    "records",
    "record_fastpath",
    "config",
    "schedule",
    "store",
    "sources",
    "metrics",
    "rules",
    "notify",
    "usecases",
    "reports",
    "web",
    "service",
    "demo",
    "cli",
]

# modules that make one layer together
SAME_LAYER = {"config_checks": "config"}

# config.py assembles the settings of every registered rule, channel and source type: it asks their
# registries (lazily, inside a function) instead of knowing the types, so that adding one is one module.
REGISTRY_LOOKUPS = {
    ("config", "payoutwatch.rules.registry"),
    ("config", "payoutwatch.notify.channels.base"),
    ("config", "payoutwatch.sources.base"),
}

SRC = Path(payoutwatch.__file__).parent


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "payoutwatch":
        return None
    return SAME_LAYER.get(parts[1], parts[1])


def _upward_imports() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).with_suffix("")
        if relative.parts[0] in ("__init__", "__main__") or "migrations" in relative.parts:
            continue
        own = SAME_LAYER.get(relative.parts[0], relative.parts[0])
        assert own in LAYERS, f"{path}: module {own!r} belongs to no layer; add it to LAYERS"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            other = _layer(node.module)
            if other is None or (own, node.module) in REGISTRY_LOOKUPS:
                continue
            if other in LAYERS and LAYERS.index(other) > LAYERS.index(own):
                found.append(f"{relative} ({own}) imports {node.module} ({other})")
    return found


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    assert _upward_imports() == []
