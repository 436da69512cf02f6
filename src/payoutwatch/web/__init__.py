"""The web app: JSON API, health, metrics (pages arrive with the rest of issue 4)."""
