"""Reports for the review cadence (DESIGN §8). Every figure comes from ``metrics`` or the alert store."""
