"""Who may see and do what on the web (DESIGN §10, pinned; the README's permission table; docs/security.md).

See. A role without ``VIEW_CREDENTIALS`` (viewer, finance) sees no credential anywhere: not the credentials
dashboard, and not the ``credential_expiry`` alerts (whose keys, summaries and details name credentials) in
alert lists, an alert's page, notifications, silences, back-tests, the weekly report or ``/metrics``. What is
left out is counted (``withheld``) so a page can say so.

Do. ``ops`` and ``admin`` (``HANDLE_ALERTS``) acknowledge, resolve and silence any alert; a team role handles
the alerts whose owner is one of its team's (``web.role_owners``: finance → finance, security → security,
engineering → payments-engineering), and only alerts it may see. A team role's silence must name one of
its owners exactly in ``owner`` (no glob), so it can only ever mute its own team's alerts; it may expire
only such silences.

Teams' pages. Every role that views reads the reconciliation, the reserve review and the incident timeline
(without credential events for a role that may not see credentials); signing off a cycle needs ``SIGN_OFF``
(finance, admin), marking a reserve episode reviewed the right to handle that alert, the access review
``REVIEW_ACCESS`` (security, admin), a credential's history ``VIEW_CREDENTIALS``.
"""

from __future__ import annotations

from typing import Any

from payoutwatch.config import WebSettings
from payoutwatch.notify.silences import Matcher
from payoutwatch.usecases.backtest import Comparison
from payoutwatch.usecases.tokens import allowed
from payoutwatch.vocabulary import Permission, Role, RuleId

CREDENTIAL_RULE = RuleId.CREDENTIAL_EXPIRY.value


def sees_credentials(role: Role) -> bool:
    return allowed(role, Permission.VIEW_CREDENTIALS)


def sees_rule(role: Role, rule: str | None) -> bool:
    """Whether ``role`` may see alerts, notifications and silences of ``rule``."""
    return rule != CREDENTIAL_RULE or sees_credentials(role)


def silence_names_credentials(rule: str | None, key: str | None) -> bool:
    """A silence on the credential rule, or on a key of it, names credentials."""
    return (rule or "").startswith(CREDENTIAL_RULE) or (key or "").startswith(CREDENTIAL_RULE)


def visible_json(role: Role, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Alert, notification or back-test rows (``rule`` field) ``role`` may see, and how many were left out."""
    kept = [r for r in rows if sees_rule(role, r.get("rule"))]
    return kept, len(rows) - len(kept)


def visible_silences(role: Role, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    kept = [r for r in rows if sees_credentials(role) or not silence_names_credentials(r["rule"], r["key"])]
    return kept, len(rows) - len(kept)


def visible_comparison(role: Role, diff: Comparison) -> Comparison:
    """A back-test's comparison without the (key, event) pairs of alerts ``role`` may not see."""

    def keep(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, e) for k, e in pairs if sees_rule(role, k.split(":", 1)[0])]

    return Comparison(keep(diff.only_backtest), keep(diff.only_actual), keep(diff.both))


def listing(name: str, rows: list[dict[str, Any]], withheld: int) -> dict[str, Any]:
    """An API listing: ``{name: rows}``, plus ``withheld`` (how many rows this role may not see) when any were."""
    return {name: rows, "withheld": withheld} if withheld else {name: rows}


def owners_handled(role: Role, web: WebSettings) -> frozenset[str] | None:
    """The alert owners ``role`` may handle: None means every owner (ops, admin); empty means none."""
    if allowed(role, Permission.HANDLE_ALERTS):
        return None
    return frozenset(web.role_owners.get(role.value, []))  # type: ignore[call-overload]


def handles_some(role: Role, web: WebSettings) -> bool:
    """Whether ``role`` may handle any alert at all (the forms and endpoints are offered at all)."""
    owners = owners_handled(role, web)
    return owners is None or bool(owners)


def may_handle(role: Role, web: WebSettings, *, rule: str, owner: str) -> bool:
    """Whether ``role`` may acknowledge or resolve an alert of ``rule`` owned by ``owner``."""
    owners = owners_handled(role, web)
    return sees_rule(role, rule) and (owners is None or owner in owners)


def may_silence(role: Role, web: WebSettings, matcher: Matcher) -> bool:
    """Whether ``role`` may add (or expire) a silence with ``matcher``: anything for ops and admin; for a team
    role, ``owner`` must be exactly one of its owners, and a role that may not see credentials may not
    name the credential rule or its keys."""
    owners = owners_handled(role, web)
    if owners is None:
        return True
    if not sees_credentials(role) and silence_names_credentials(matcher.rule, matcher.key):
        return False
    return matcher.owner in owners


# The teams' pages and the permission each needs (linked from the navigation for the roles allowed)
TEAM_PAGES = (
    ("/reconciliation", "Reconciliation", Permission.VIEW),
    ("/reserve-review", "Reserve review", Permission.VIEW),
    ("/access-review", "Access review", Permission.REVIEW_ACCESS),
    ("/incident", "Timeline", Permission.VIEW),
    ("/silences", "Silences", Permission.VIEW),
)


def team_pages(role: Role) -> list[tuple[str, str]]:
    """The teams' pages ``role`` may open: (path, label)."""
    return [(path, label) for path, label, permission in TEAM_PAGES if allowed(role, permission)]


def refusal(role: Role, web: WebSettings) -> str:
    """Why ``role`` may not handle an alert, for a 403."""
    owners = owners_handled(role, web)
    if not owners:
        return f"the {role.value} role may not handle alerts"
    return f"the {role.value} role may only handle alerts owned by {', '.join(sorted(owners))}"
