"""The ``payoutwatch`` command (DESIGN §7): one module per command group; each parses its input,
calls a use case and renders the result.

- ``app``: the root command and global options (``--config``, ``--verbose``)
- ``records``: ingest, sync, sources, ping
- ``alerts``: alerts, ack, resolve, review, silence, notifications, evaluate, deliver, backtest
- ``reports``: dashboard, report …, reconcile sign-off
- ``tokens``: token create / list / revoke
- ``admin``: config check / show, export, serve, demo
"""

# ruff: noqa: I001 (the groups are imported in the order their commands are listed by --help)

from __future__ import annotations

from payoutwatch.cli.app import app
from payoutwatch.cli import records, alerts, reports, tokens, admin

__all__ = ["app", "main"]

_GROUPS = (records, alerts, reports, tokens, admin)  # imported for their commands' registration on ``app``


def main() -> None:
    app()
