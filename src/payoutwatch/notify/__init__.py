"""Notifications: transitions -> routes -> silences -> outbox -> channels."""
