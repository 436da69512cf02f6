"""The root ``payoutwatch`` command and its global options; each command group registers on ``app``."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from payoutwatch.cli.invocation import Invocation

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="payoutwatch: one trustworthy view of automated studio payouts.",
)


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="YAML config file (default ./payoutwatch.yaml or $PAYOUTWATCH_CONFIG)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO level.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = Invocation(config=config)
