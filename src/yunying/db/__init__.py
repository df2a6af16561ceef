"""Operational store: SQLAlchemy 2 models over SQLite (default) or PostgreSQL."""
