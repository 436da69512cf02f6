"""payoutwatch: one trustworthy view of automated studio payouts."""

__version__ = "0.1.0"
