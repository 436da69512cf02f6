"""Jira REST: one ticket per firing episode; later messages of the episode comment on it.

``send`` returns the key of the ticket, which the outbox stores with the notification and hands
back (``Message.remote_ref``) to the episode's later messages, so the resolve comments on that
ticket even when the search does not see it yet (Cloud's ``search/jql`` is eventually
consistent). The episode-label search only recovers a ticket whose create answer was lost: a
retry after a lost answer (or a killed process) never opens a second ticket. Server / Data
Center use API 2 (``/rest/api/2/search``, plain-text bodies); Cloud uses API 3
(``/rest/api/3/search/jql``, Atlassian Document Format bodies), the default for a base URL
under ``atlassian.net``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr, model_validator

from payoutwatch.config import CHANNEL_TYPES, ChannelSettingsBase
from payoutwatch.notify.channels.base import DeliveryError, Report, cannot_carry_reports, check_response, post_json
from payoutwatch.notify.messages import Message, clip
from payoutwatch.vocabulary import Event


class JiraChannel(ChannelSettingsBase):
    carries_reports: ClassVar[bool] = False

    type: Literal["jira"]
    base_url: str
    project: str
    issue_type: str = "Task"
    api_version: Literal[2, 3] | None = None  # unset: 3 under atlassian.net (Cloud), else 2
    email: str | None = None
    api_token: SecretStr | None = None
    bearer_token: SecretStr | None = None
    timeout_seconds: float = 10

    @model_validator(mode="after")
    def _auth(self) -> JiraChannel:
        if self.bearer_token is None and (self.email is None or self.api_token is None):
            raise ValueError("a jira channel needs email and api_token, or bearer_token")
        return self

    @property
    def version(self) -> int:
        if self.api_version is not None:
            return self.api_version
        host = urlsplit(self.base_url).hostname or ""
        return 3 if host == "atlassian.net" or host.endswith(".atlassian.net") else 2


SUMMARY_LIMIT = 255
BODY_LIMIT = 30_000  # Jira's text fields hold 32,767 characters


def one_line_summary(text: str) -> str:
    """A Jira summary: at most 255 characters on one line."""
    return clip(" ".join(text.split()), SUMMARY_LIMIT)


def adf(text: str, links: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Atlassian Document Format: one paragraph per line, then one paragraph per (label, URL) link."""
    paragraphs: list[list[dict[str, Any]]] = [[{"type": "text", "text": line}] for line in text.splitlines() if line]
    paragraphs += [
        [{"type": "text", "text": label, "marks": [{"type": "link", "attrs": {"href": url}}]}]
        for label, url in links or []
    ]
    return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": p} for p in paragraphs]}


class Jira:
    def __init__(self, name: str, settings: JiraChannel, client: httpx.Client) -> None:
        self.name = name
        self.settings = settings
        self.client = client
        self.version = settings.version
        self.api = f"{settings.base_url.rstrip('/')}/rest/api/{self.version}"

    def _auth(self) -> dict[str, Any]:
        s = self.settings
        if s.bearer_token is not None:
            return {"headers": {"Authorization": f"Bearer {s.bearer_token.get_secret_value()}"}}
        assert s.email is not None and s.api_token is not None
        return {"auth": (s.email, s.api_token.get_secret_value())}

    def _body(self, message: Message) -> Any:
        """The description or comment: plain text on API 2, ADF with link marks on API 3."""
        if self.version == 2:
            return clip(message.text(), BODY_LIMIT)
        links = [(label, url) for label, url in (("Runbook", message.runbook_url), ("Alert page", message.link)) if url]
        return adf(clip(message.text(links=False), BODY_LIMIT), links)

    def find_ticket(self, label: str) -> str | None:
        jql = f'project = "{self.settings.project}" AND labels = "{label}"'
        path = "/search/jql" if self.version == 3 else "/search"
        try:
            response = self.client.get(
                self.api + path,
                params={"jql": jql, "fields": "labels,status", "maxResults": 5},
                timeout=self.settings.timeout_seconds,
                **self._auth(),
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"Jira search unreachable: {type(exc).__name__}") from None
        check_response(response, "Jira search")
        issues = response.json().get("issues") or []
        return str(issues[0]["key"]) if issues else None

    def create_ticket(self, message: Message) -> str | None:
        fields = {
            "project": {"key": self.settings.project},
            "issuetype": {"name": self.settings.issue_type},
            "summary": one_line_summary(message.headline),
            "description": self._body(message),
            "labels": ["payoutwatch", message.rule, message.episode],
        }
        response = post_json(
            self.client,
            self.api + "/issue",
            {"fields": fields},
            "Jira create issue",
            timeout=self.settings.timeout_seconds,
            **self._auth(),
        )
        key = response.json().get("key")
        return str(key) if key else None

    def comment(self, ticket: str, message: Message) -> None:
        post_json(
            self.client,
            f"{self.api}/issue/{ticket}/comment",
            {"body": self._body(message)},
            "Jira comment",
            timeout=self.settings.timeout_seconds,
            **self._auth(),
        )

    def send(self, message: Message) -> str | None:
        """Open the episode's ticket or comment on it; returns its key (None: a resolve with no ticket)."""
        ticket = message.remote_ref or self.find_ticket(message.episode)
        if message.event == Event.RESOLVED:
            if ticket is not None:
                self.comment(ticket, message)
            return ticket
        if ticket is None:
            return self.create_ticket(message)
        if message.event != Event.FIRING:
            self.comment(ticket, message)
        return ticket

    def send_report(self, report: Report) -> None:
        raise cannot_carry_reports(self.name)


CHANNEL_TYPES.register(JiraChannel, Jira)
