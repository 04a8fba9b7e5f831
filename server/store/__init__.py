"""SQLAlchemy Core schema and queries for SQLite and PostgreSQL."""
