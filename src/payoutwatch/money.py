"""Money is integer cents; this module only turns cents into text for people."""

from __future__ import annotations


def format_cents(cents: int | None, currency: str = "CAD") -> str:
    """``123456`` -> ``'1,234.56 CAD'``; ``None`` -> ``'n/a'``.

    >>> format_cents(-5)
    '-0.05 CAD'
    """
    if cents is None:
        return "n/a"
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d} {currency}"
