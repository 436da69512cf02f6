"""Channel and source types are plug-ins: a type defined here, registered here, is configurable,
buildable, and used by delivery and sync without any edit to production code."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy import Engine, select

from payoutwatch.config import CHANNEL_TYPES, SOURCE_TYPES, ChannelSettingsBase, ConfigError, Settings, SourceBase
from payoutwatch.config import redacted as redacted_settings
from payoutwatch.notify.channels import Report, build_channel
from payoutwatch.notify.messages import Message
from payoutwatch.reports.scheduled import send_weekly
from payoutwatch.sources.base import Page
from payoutwatch.sources.registry import build_source
from payoutwatch.store.tables import credentials
from payoutwatch.usecases.syncing import sync_source
from tests.conftest import make_settings, utc

NOW = utc(2026, 3, 10, 9)


class PigeonChannel(ChannelSettingsBase):
    type: Literal["pigeon"]
    loft: str
    ring: str = "red"


class Pigeon:
    """Keeps what it was given, so the test can see it."""

    delivered: list[Any] = []

    def __init__(self, name: str, settings: PigeonChannel, client: httpx.Client) -> None:
        self.name = name
        self.settings = settings

    def send(self, message: Message) -> None:
        Pigeon.delivered.append(message)

    def send_report(self, report: Report) -> None:
        Pigeon.delivered.append((self.settings.loft, report.title))


class NotebookSource(SourceBase):
    type: Literal["notebook"]
    credential_days_left: int = 10


class Notebook:
    """Reports one credential expiring ``credential_days_left`` days after the instant of the pull."""

    def __init__(self, name: str, config: NotebookSource, settings: Settings) -> None:
        self.name = name
        self.config = config

    def secrets(self) -> list[str]:
        return []

    def pages(self, cursor: dict[str, Any] | None, *, now: datetime) -> Iterator[Page]:
        page = Page(cursor={"read_at": now.isoformat()})
        page.add(
            "credentials",
            {
                "credential_id": "notebook-key",
                "created_at": (now - timedelta(days=1)).isoformat(),
                "kind": "other",
                "name": "notebook key",
                "expires_at": (now + timedelta(days=self.config.credential_days_left)).isoformat(),
            },
        )
        yield page


@pytest.fixture
def pigeon() -> Iterator[None]:
    CHANNEL_TYPES.register(PigeonChannel, Pigeon)
    Pigeon.delivered = []
    yield
    CHANNEL_TYPES.unregister("pigeon")


@pytest.fixture
def notebook() -> Iterator[None]:
    SOURCE_TYPES.register(NotebookSource, Notebook)
    yield
    SOURCE_TYPES.unregister("notebook")


def test_a_registered_channel_type_is_configured_built_and_carries_reports(pigeon: None, sqlite_store: Engine) -> None:
    settings = make_settings(
        channels={"coop": {"type": "pigeon", "loft": "roof"}},
        reports={"weekly": {"channels": ["coop"]}},
        routes=[{"rule": "automation_failure", "channels": ["coop"]}],
    )
    assert isinstance(settings.channels["coop"], PigeonChannel)
    assert redacted_settings(settings)["channels"]["coop"] == {"type": "pigeon", "loft": "roof", "ring": "red"}
    channel = build_channel("coop", settings.channel("coop"), httpx.Client())
    assert isinstance(channel, Pigeon)
    assert send_weekly(sqlite_store, settings, at=NOW) == []
    [(loft, title)] = Pigeon.delivered
    assert loft == "roof" and title.startswith("payoutwatch weekly snapshot")


def test_a_registered_channel_types_settings_are_validated_by_key_path(pigeon: None) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(channels={"coop": {"type": "pigeon", "lofty": "roof"}})
    assert "channels.coop.loft: required, but not set" in str(caught.value)
    assert "channels.coop.lofty: unknown key 'lofty'" in str(caught.value)


def test_an_unregistered_channel_type_is_refused_naming_the_known_ones(pigeon: None) -> None:
    CHANNEL_TYPES.unregister("pigeon")
    with pytest.raises(ConfigError, match="unknown type 'pigeon'; known types: .*slack"):
        make_settings(channels={"coop": {"type": "pigeon", "loft": "roof"}})


def test_a_registered_source_type_is_configured_built_and_synced_with_the_given_now(
    notebook: None, sqlite_store: Engine
) -> None:
    settings = make_settings(sources={"book": {"type": "notebook", "credential_days_left": 3, "retries": 0}})
    assert isinstance(settings.sources["book"], NotebookSource)
    assert isinstance(build_source("book", settings), Notebook)
    result = sync_source(sqlite_store, settings, "book", now=lambda: NOW)
    assert result.ok and result.counts == {"credentials": 1}
    with sqlite_store.connect() as conn:
        expires_at = conn.execute(select(credentials.c.expires_at)).scalar_one()
    assert expires_at.replace(tzinfo=UTC) == NOW + timedelta(days=3)


def test_a_registered_source_types_settings_are_validated_by_key_path(notebook: None) -> None:
    with pytest.raises(ConfigError, match="sources.book.credential_days_left: should be a valid integer"):
        make_settings(sources={"book": {"type": "notebook", "credential_days_left": "soon"}})
