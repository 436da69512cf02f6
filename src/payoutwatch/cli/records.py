"""Getting records in: ``ingest``, ``sync``, ``sources`` and ``ping``."""

from __future__ import annotations

import io
import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from typer.core import TyperCommand

from payoutwatch.cli.app import app
from payoutwatch.cli.invocation import Invocation, invocation
from payoutwatch.cli.progress import CountedReader, progress_bar
from payoutwatch.cli.render import Wide

LARGE_INGEST_BYTES = 8 * 1024 * 1024  # a file this large shows a progress bar (on a terminal)


@app.command()
def ingest(
    ctx: typer.Context,
    kind: Annotated[
        str,
        typer.Argument(help="job_runs, scheduled_payouts, reserve_snapshots, manual_payouts, transfers or credentials"),
    ],
    file: Annotated[str, typer.Argument(help="JSON Lines or a JSON array; '-' reads stdin")],
) -> None:
    """Store records (an idempotent upsert); a batch with any bad record is refused whole."""
    from payoutwatch.records import RECORD_TYPES, BatchRejected, record_doc, unknown_kind_message
    from payoutwatch.usecases.ingestion import ingest_lines, ingest_text

    inv = invocation(ctx)
    if kind not in RECORD_TYPES:
        inv.fail(unknown_kind_message(kind), code=2)
    try:
        raw = sys.stdin.buffer if file == "-" else Path(file).open("rb")  # noqa: SIM115 (closed below)
        size = None if file == "-" else Path(file).stat().st_size
    except OSError as exc:
        inv.fail(f"cannot read {file}: {exc.strerror}", code=2)
    large = size is not None and size >= LARGE_INGEST_BYTES
    try:
        with progress_bar(inv.terminal.err, f"ingest {kind}", size, size=True) if large else nullcontext() as advance:
            if advance is not None:
                raw = CountedReader(raw, advance)
            stream = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(io.RawIOBase, raw))
            with stream:
                if _is_json_array(stream):  # one JSON value: read whole; JSON Lines stream with flat memory
                    result = ingest_text(
                        inv.engine, kind, stream.read(), inv.settings, now=inv.now(), actor=inv.actor()
                    )
                else:
                    result = ingest_lines(inv.engine, kind, stream, inv.settings, now=inv.now(), actor=inv.actor())
    except OSError as exc:
        inv.fail(f"cannot read {file}: {exc.strerror}", code=2)
    except BatchRejected as exc:
        for problem in exc.errors:
            inv.terminal.warn(f"{file}: {problem}")
        inv.fail(
            f"{len(exc.errors)} problem(s) in {kind} batch; nothing was written "
            f"(every field and bound of {kind}: {record_doc(kind)})"
        )
    inv.terminal.say(f"stored {result.stored} {kind} record(s)")


def _is_json_array(stream: io.BufferedReader) -> bool:
    """Whether the input starts (after a byte order mark and white space) with ``[``, without consuming it."""
    from payoutwatch.records import is_json_array

    return is_json_array(stream.peek(65536)[:65536])


@app.command()
def sync(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="One configured source; default all.")] = None,
) -> None:
    """Pull configured sources once; exit 1 if any failed (the error is stored and shown)."""
    from payoutwatch.usecases.syncing import sync_all

    inv = invocation(ctx)
    settings = inv.settings
    if name is not None and name not in settings.sources:
        configured = ", ".join(settings.sources) or "none"
        inv.fail(f"no source named {name!r} under `sources` (configured: {configured})", 2)
    if not settings.sources:
        inv.terminal.say("no sources configured (see `sources` in payoutwatch.example.yaml)")
        return
    names = [name] if name else list(settings.sources)
    results = []
    with progress_bar(inv.terminal.err, "sync", len(names)) as advance:
        for one in names:  # a source at a time, so that the bar moves
            results += sync_all(inv.engine, settings, now=inv.now, only=one)
            advance(1)
    for r in results:
        counts = ", ".join(f"{n} {kind}" for kind, n in r.counts.items()) or "no records"
        if r.ok:
            inv.terminal.say(f"{r.source}: ok, {counts} in {r.duration_s:.2f} s")
            for warning in r.warnings:
                inv.terminal.warn(f"{r.source}: warning: {warning}")
        else:
            inv.terminal.warn(f"{r.source}: FAILED after {r.duration_s:.2f} s: {r.error}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command()
def sources(
    ctx: typer.Context, json_output: Annotated[bool, typer.Option("--json")] = False, wide: Wide = False
) -> None:
    """Each source's sync state: last success, last error, counts, duration."""
    from payoutwatch.usecases.syncing import source_listing

    inv = invocation(ctx, wide=wide)
    rows = source_listing(inv.reader, inv.settings)
    inv.terminal.listing("sources", rows, json_output, empty="no sources configured")
    if not json_output:  # the table has no room for lists: a source's warnings follow it, one a line
        for row in rows:
            for warning in row["warnings"]:
                inv.terminal.warn(f"{row['source']}: warning: {warning}")


class _PingCommand(TyperCommand):
    """``ping`` remembers how many words followed ``--`` (click drops the separator): only those are a command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: typer's own click Context
        ctx.meta[_AFTER_SEPARATOR] = len(args) - args.index("--") - 1 if "--" in args else None
        return super().parse_args(ctx, args)


_AFTER_SEPARATOR = "payoutwatch.ping.after_separator"
_PING_USAGE = "use `ping JOB start|success|fail`, or `ping JOB -- COMMAND ARGS...` to run and report a command"


@app.command(cls=_PingCommand)
def ping(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job's name (job_runs.job), e.g. payouts.")],
    args: Annotated[list[str] | None, typer.Argument(help="start | success | fail, or -- COMMAND ARGS...")] = None,
    run_id: Annotated[str | None, typer.Option(help="The run this ping belongs to.")] = None,
    exit_code: Annotated[int | None, typer.Option(help="With success/fail: the job's exit code.")] = None,
    figures: Annotated[str | None, typer.Option(help='JSON such as {"studios_processed": 120}.')] = None,
) -> None:
    """Report a job's start/success/fail, or run the command after -- and report it (its exit code passes
    through). Any other word is a usage error: nothing is run or stored."""
    from payoutwatch.usecases.pings import UnknownEvent, ping_event, run_monitored

    inv = invocation(ctx)
    words = args or []
    after: int | None = ctx.meta.get(_AFTER_SEPARATOR)
    if after is not None:
        if after > len(words):
            inv.fail(f"the job's name goes before --; {_PING_USAGE}", code=2)
        before, command = words[: len(words) - after], words[len(words) - after :]
        if before:
            inv.fail(f"{' '.join(before)!r} before --: {_PING_USAGE}", code=2)
        if not command:
            inv.fail(f"no command after --; {_PING_USAGE}", code=2)
        raise typer.Exit(run_monitored(command, run_id=run_id, ping=_Pinger(inv, job), warn=inv.terminal.warn))
    if not words:
        inv.fail(f"no event given; {_PING_USAGE}", code=2)
    try:
        event = ping_event(" ".join(words))
    except UnknownEvent as exc:
        inv.fail(f"{exc}; {_PING_USAGE}", code=2)
    try:
        reported = json.loads(figures) if figures else None
    except (ValueError, RecursionError) as exc:  # ValueError: not JSON, or an integer of thousands of digits
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc).split(";")[0]
        inv.fail(f"--figures is not JSON: {reason}", code=2)
    run = _Pinger(inv, job)(event, run_id=run_id, exit_code=exit_code, figures=reported)
    if run is None:
        raise typer.Exit(1)
    inv.terminal.say(f"{words[0]} recorded for {job} run {run}")


class _Pinger:
    """Records a ping for one job; a failure to record is reported, never raised (monitoring must not stop
    the job)."""

    def __init__(self, inv: Invocation, job: str) -> None:
        self.inv, self.job = inv, job

    def __call__(
        self,
        event: Any,
        *,
        run_id: str | None,
        exit_code: int | None = None,
        figures: dict[str, Any] | None = None,
    ) -> str | None:
        from payoutwatch.records import BatchRejected
        from payoutwatch.usecases.pings import record_ping

        inv = self.inv
        try:
            return record_ping(
                inv.engine,
                inv.settings,
                self.job,
                event,
                now=inv.now(),
                run_id=run_id,
                exit_code=exit_code,
                figures=figures,
            )
        except (BatchRejected, ValueError) as exc:
            detail = "; ".join(str(e) for e in exc.errors) if isinstance(exc, BatchRejected) else str(exc)
            inv.terminal.warn(f"payoutwatch: ping not recorded: {detail}")
        except (typer.Exit, Exception) as exc:  # store down, config broken: the job still runs
            inv.terminal.warn(f"payoutwatch: ping not recorded ({type(exc).__name__})")
        return None
