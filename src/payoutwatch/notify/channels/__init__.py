"""Channel types: one module each, holding its settings model and its class and registering both
in ``config.CHANNEL_TYPES``; ``build_channel`` looks the configured ``type`` up there."""

from __future__ import annotations

import httpx

from payoutwatch.config import CHANNEL_TYPES, ChannelSettingsBase
from payoutwatch.notify.channels.base import Channel, DeliveryError, Report


def build_channel(name: str, settings: ChannelSettingsBase, client: httpx.Client) -> Channel:
    return CHANNEL_TYPES.lookup(settings.type).factory(name, settings, client)


__all__ = ["Channel", "DeliveryError", "Report", "build_channel"]
