"""Jira REST: one ticket per firing episode, found by its episode label before creating.

Searching first means a retry (or a process killed after Jira created the ticket but
before we recorded it) never opens a second ticket. Data Center / Server use
``/rest/api/2/search``; Cloud (``api_version: 3``) uses ``/rest/api/3/search/jql`` and ADF bodies.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import httpx
from pydantic import SecretStr, model_validator

from payoutwatch.config import CHANNEL_TYPES, ChannelSettingsBase
from payoutwatch.notify.channels.base import DeliveryError, Report, cannot_carry_reports, check_response, post_json
from payoutwatch.notify.messages import Message
from payoutwatch.vocabulary import Event


class JiraChannel(ChannelSettingsBase):
    carries_reports: ClassVar[bool] = False

    type: Literal["jira"]
    base_url: str
    project: str
    issue_type: str = "Task"
    api_version: Literal[2, 3] = 2
    email: str | None = None
    api_token: SecretStr | None = None
    bearer_token: SecretStr | None = None
    timeout_seconds: float = 10

    @model_validator(mode="after")
    def _auth(self) -> JiraChannel:
        if self.bearer_token is None and (self.email is None or self.api_token is None):
            raise ValueError("a jira channel needs email and api_token, or bearer_token")
        return self


def adf(text: str) -> dict[str, Any]:
    """Atlassian Document Format: one paragraph per line."""
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]} for line in text.splitlines() if line
        ],
    }


class Jira:
    def __init__(self, name: str, settings: JiraChannel, client: httpx.Client) -> None:
        self.name = name
        self.settings = settings
        self.client = client
        self.api = f"{settings.base_url.rstrip('/')}/rest/api/{settings.api_version}"

    def _auth(self) -> dict[str, Any]:
        s = self.settings
        if s.bearer_token is not None:
            return {"headers": {"Authorization": f"Bearer {s.bearer_token.get_secret_value()}"}}
        assert s.email is not None and s.api_token is not None
        return {"auth": (s.email, s.api_token.get_secret_value())}

    def _body(self, text: str) -> Any:
        return adf(text) if self.settings.api_version == 3 else text

    def find_ticket(self, label: str) -> str | None:
        jql = f'project = "{self.settings.project}" AND labels = "{label}"'
        path = "/search/jql" if self.settings.api_version == 3 else "/search"
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

    def create_ticket(self, message: Message) -> str:
        fields = {
            "project": {"key": self.settings.project},
            "issuetype": {"name": self.settings.issue_type},
            "summary": message.headline[:250],
            "description": self._body(message.text()),
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
        return str(response.json().get("key", ""))

    def comment(self, ticket: str, message: Message) -> None:
        post_json(
            self.client,
            f"{self.api}/issue/{ticket}/comment",
            {"body": self._body(message.text())},
            "Jira comment",
            timeout=self.settings.timeout_seconds,
            **self._auth(),
        )

    def send(self, message: Message) -> None:
        ticket = self.find_ticket(message.episode)
        if message.event == Event.RESOLVED:
            if ticket is not None:
                self.comment(ticket, message)
            return
        if ticket is None:
            self.create_ticket(message)
        elif message.event != Event.FIRING:
            self.comment(ticket, message)

    def send_report(self, report: Report) -> None:
        raise cannot_carry_reports(self.name)


CHANNEL_TYPES.register(JiraChannel, Jira)
