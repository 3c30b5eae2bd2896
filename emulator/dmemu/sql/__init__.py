"""DM8 SQL dialect over SQLite: Database and SqlSession (see engine.py and ARCHITECTURE.md)."""

from .engine import Database
from .session import SqlSession

__all__ = ["Database", "SqlSession"]
