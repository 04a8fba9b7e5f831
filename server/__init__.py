"""Workpool server: a gRPC work-pool service on SQLAlchemy."""

__version__ = "0.1.0"
