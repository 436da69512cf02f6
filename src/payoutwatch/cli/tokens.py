"""API tokens: ``token create|list|revoke``."""

from __future__ import annotations

from typing import Annotated

import typer

from payoutwatch.cli.app import app
from payoutwatch.cli.invocation import invocation
from payoutwatch.cli.render import Wide

token_app = typer.Typer(no_args_is_help=True, help="API tokens: shown once, stored hashed, revocable.")
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Who or what uses it, e.g. airflow-pinger.")],
    role: Annotated[str, typer.Option(help="viewer, ops, finance, engineering, security, admin, ingest or metrics")],
) -> None:
    """Create a token; it is printed alone on the last line, once."""
    from payoutwatch.usecases import tokens
    from payoutwatch.vocabulary import Role

    inv = invocation(ctx)
    try:
        chosen = Role(role)
    except ValueError:
        inv.fail(f"--role {role!r}: expected one of {', '.join(r.value for r in Role)}", code=2)
    created = tokens.create(inv.engine, name=name, role=chosen, actor=inv.actor(), now=inv.now())
    inv.terminal.say(f"token {created.id} for {name} ({chosen.value}); store it now, it is not shown again:")
    inv.terminal.write(created.token + "\n")


@token_app.command("list")
def token_list(
    ctx: typer.Context, json_output: Annotated[bool, typer.Option("--json")] = False, wide: Wide = False
) -> None:
    """Tokens with role, age, last use and whether revoked (never the token)."""
    from payoutwatch.usecases import tokens

    inv = invocation(ctx, wide=wide)
    inv.terminal.listing("tokens", tokens.listing(inv.engine, now=inv.now()), json_output, empty="no tokens")


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: int) -> None:
    """Revoke a token at once."""
    from payoutwatch.usecases import tokens

    inv = invocation(ctx)
    try:
        tokens.revoke(inv.engine, token_id, actor=inv.actor(), now=inv.now())
    except tokens.TokenNotFound as exc:
        inv.fail(str(exc))
    inv.terminal.say(f"token {token_id} revoked")
