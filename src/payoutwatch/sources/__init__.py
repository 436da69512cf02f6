"""Sources: pull connectors that turn the team's systems into records (DESIGN §3)."""
