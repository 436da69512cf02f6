"""Running and configuring payoutwatch: ``config check|show``, ``export``, ``serve`` and ``demo``."""

from __future__ import annotations

from typing import Annotated

import typer

from payoutwatch.cli.app import app
from payoutwatch.cli.invocation import Invocation, invocation
from payoutwatch.cli.render import render_dashboard, render_rows

config_app = typer.Typer(no_args_is_help=True, help="Validate or show the configuration.")
app.add_typer(config_app, name="config")


@config_app.command("check")
def config_check(ctx: typer.Context) -> None:
    """Validate the configuration (exit 2 with every problem named)."""
    inv = invocation(ctx)
    settings = inv.settings
    inv.terminal.say(
        f"configuration is valid: {len(settings.channels)} channel(s), {len(settings.routes)} route(s), "
        f"store {settings.store.url}"
    )


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print the effective configuration with secrets redacted."""
    import yaml

    from payoutwatch.config import redacted

    inv = invocation(ctx)
    inv.terminal.write(yaml.safe_dump(redacted(inv.settings), sort_keys=False))


@app.command()
def export(
    ctx: typer.Context, what: Annotated[str, typer.Argument(help="grafana, prometheus-rules or lookml")]
) -> None:
    """Print a Grafana dashboard (JSON) or Prometheus alerting rules (YAML) over /metrics, or LookML views
    and explores over the PostgreSQL store (docs/looker.md)."""
    import yaml

    from payoutwatch.usecases.exports import grafana_dashboard, prometheus_rules

    inv = invocation(ctx)
    if what == "grafana":
        inv.terminal.json(grafana_dashboard(inv.settings))
    elif what == "prometheus-rules":
        inv.terminal.write(yaml.safe_dump(prometheus_rules(inv.settings), sort_keys=False))
    elif what == "lookml":
        from payoutwatch.usecases.lookml import lookml

        inv.terminal.write(lookml(inv.settings))
    else:
        inv.fail("export grafana, export prometheus-rules or export lookml", code=2)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """The API and the background loop (sync, evaluate, deliver, scheduled reports) until interrupted."""
    _serve(invocation(ctx), host, port)


def _serve(inv: Invocation, host: str, port: int) -> None:
    from payoutwatch import service

    service.serve(
        inv.engine,
        inv.settings,
        host=host,
        port=port,
        clock=inv.now,
        on_loop_stopped=lambda: inv.terminal.warn("payoutwatch: background loop stopped"),
    )


@app.command()
def demo(
    ctx: typer.Context,
    studios: Annotated[int, typer.Option(help="How many studios the sample platform has.")] = 300,
    serve_after: Annotated[bool, typer.Option("--serve", help="Then serve it at --host:--port.")] = False,
    host: Annotated[str, typer.Option(help="With --serve: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="With --serve: port to listen on.")] = 8000,
) -> None:
    """Build a realistic sample platform in the store, evaluate it and show the dashboards."""
    from payoutwatch.demo import with_sample_runbooks
    from payoutwatch.usecases import tokens
    from payoutwatch.vocabulary import Role

    inv = invocation(ctx)
    inv.use_settings(with_sample_runbooks(inv.settings, f"http://{host}:{port}"))
    _show_demo(inv, studios)
    if serve_after:
        created = tokens.create(inv.engine, name="demo-admin", role=Role.ADMIN, actor="demo", now=inv.now())
        inv.terminal.out.print(
            f"\n[bold]Open http://{host}:{port}/ and log in with this token:[/bold]\n{created.token}\n"
            "(or make your own: payoutwatch token create --name you --role viewer)",
            highlight=False,
        )
        _serve(inv, host, port)


def _show_demo(inv: Invocation, studios: int) -> None:
    """Build the sample platform, then print what was built, the four dashboards and the open alerts."""
    from payoutwatch.demo import NotADemoStore, run_demo
    from payoutwatch.metrics import DASHBOARD_NAMES, compute

    now = inv.now()
    try:
        result = run_demo(inv.engine, inv.settings, now=now, studios=studios)
    except NotADemoStore as exc:
        inv.fail(str(exc), code=2)
    out = inv.terminal.out
    out.print(
        f"[bold]payoutwatch demo[/bold]: built a sample platform as of {inv.terminal.when(now)}: "
        + ", ".join(f"{n:,} {kind}" for kind, n in result.counts.items())
    )
    with inv.engine.connect() as conn:
        for name in DASHBOARD_NAMES:
            render_dashboard(
                name, compute(name, conn, now, inv.settings), out, inv.settings.currency, inv.terminal.zone
            )
    rows = [
        {
            "key": t.key,
            "event": t.event.value if t.event else "",
            "stage": t.stage or "",
            "severity": t.severity,
            "owner": t.owner,
            "summary": t.summary,
        }
        for t in result.transitions
    ]
    if rows:
        render_rows("open alerts", rows, out, zone=inv.terminal.zone)
    out.print(
        f"\nStore: {inv.settings.store.url}. Try: payoutwatch alerts · payoutwatch dashboard reserves "
        "· payoutwatch dashboard payout_health --json"
    )
