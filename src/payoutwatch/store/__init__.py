"""Storage: SQLAlchemy Core tables on SQLite (default) or PostgreSQL."""
