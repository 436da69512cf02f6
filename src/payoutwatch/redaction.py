"""Secrets never shown: the secret types of the configuration and the redaction of URLs and texts.

Every secret-bearing setting is a ``SecretStr`` (shown as ``**********``) or a ``SecretUrl`` (shown as
the URL with its password and secret query values masked, so an operator still sees which host and
database it names). ``redact_url`` masks a password wherever a URL carries one: in the user-info
(``postgresql://u:p@h/db``, including a password with an unencoded ``@``), or in the query string
(``?password=…``, ``?sslpassword=…``, ``?token=…``). ``scrub`` removes known secret values from any
text (error messages, log lines) before it is shown or stored.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, SecretStr

MASK = "********"
MIN_TOKEN = 12  # a part of a secret URL this long is taken for a token

# query parameters whose values are secrets (matched on the lower-cased name)
_SECRET_QUERY = re.compile(r"pass|pwd|secret|token|key|sig|auth|credential", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with the password of its user-info and every secret-looking query value masked.

    The user-info ends at the LAST ``@`` (a password may contain an unencoded ``@``, ``/`` or ``?``);
    a user-info without ``:`` is masked whole, since it may be a bare token (``https://TOKEN@host``).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _redact_query(url)
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _password = rest[:at].partition(":")
        shown_user = f"{user}:{MASK}" if colon else MASK
        rest = f"{shown_user}@{rest[at + 1 :]}"
    return f"{scheme}://{_redact_query(rest)}"


def _redact_query(text: str) -> str:
    base, question, query = text.partition("?")
    if not question:
        return text
    parts = []
    for pair in query.split("&"):
        name, equals, _value = pair.partition("=")
        parts.append(f"{name}={MASK}" if equals and _SECRET_QUERY.search(name) else pair)
    return f"{base}?{'&'.join(parts)}"


class SecretUrl(SecretStr):
    """A URL that may carry a password or a token: shown (``str``, ``repr``, ``config show``, stored
    configuration versions) with those masked by ``redact_url``; ``get_secret_value()`` is the URL."""

    def _display(self) -> str:
        return redact_url(self.get_secret_value())

    def __repr__(self) -> str:
        return f"SecretUrl({self._display()!r})"


def secret_values(model: Any) -> set[str]:
    """Every secret value held by a settings model (recursively): the texts no output may contain.

    A URL's password (and its secret query values) count on their own, so a library's error that
    quotes the URL, or part of it, is caught too.
    """
    found: set[str] = set()
    _collect(model, found)
    return {value for value in found if len(value) >= 4}  # shorter ones would mask ordinary words


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        found.add(secret)
        if isinstance(value, SecretUrl):
            found.update(_url_secrets(secret))
        elif "://" in secret:  # a URL that is a secret as a whole carries its token in its path or query
            found.update(_url_tokens(secret))
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _collect(getattr(value, name, None), found)
        for extra in (value.__pydantic_extra__ or {}).values():
            _collect(extra, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)
    elif isinstance(value, str) and "://" in value:
        found.update(_url_secrets(value))


def _url_secrets(url: str) -> list[str]:
    """The password of ``url``'s user-info (and its URL-decoded form) and its secret query values."""
    from urllib.parse import unquote

    secrets: list[str] = []
    _scheme, sep, rest = url.partition("://")
    at = rest.rfind("@") if sep else -1
    if at >= 0:
        user, colon, password = rest[:at].partition(":")
        secrets.extend([password, unquote(password)] if colon else [user, unquote(user)])
    _base, _question, query = rest.partition("?")
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        if equals and _SECRET_QUERY.search(name):
            secrets.extend([value, unquote(value)])
    return [s for s in secrets if s]


def _url_tokens(url: str) -> list[str]:
    """The path-and-query of a secret URL, and each of its parts long enough to be a token (a server
    that echoes the path it was called on must not reveal ``/services/T0/B0/<token>``)."""
    _scheme, _sep, rest = url.partition("://")
    slash = rest.find("/")
    if slash < 0:
        return _url_secrets(url)
    tail = rest[slash:]
    parts = re.split(r"[/?&=#]", tail)
    return [tail, *(part for part in parts if len(part) >= MIN_TOKEN), *_url_secrets(url)]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of a secret (longest first) and every URL password masked.
    Secrets shorter than 4 characters are left: masking them would mask ordinary words."""
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _URL.sub(lambda match: redact_url(match.group(0)), text)


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


class ScrubSecrets(logging.Filter):
    """A log filter that masks the configuration's secrets in every record it passes."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            text = scrub(str(record.exc_info[1]), self.secrets)
            if text != str(record.exc_info[1]):
                record.exc_info = None
                record.exc_text = None
                record.msg = f"{record.msg} ({text})"
        return True


def install_log_scrubbing(secrets: Iterable[str]) -> None:
    """Mask these secrets in everything the root logger's handlers write (once per process per set)."""
    scrubber = ScrubSecrets(secrets)
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, ScrubSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(scrubber)
