"""Lifecycle suite fixtures: the shared runbook (seed 十二.3 stop/start order) and DW_MODE AUTO."""

from suites.failover.runbook import auto_mode, runbook  # noqa: F401 - fixtures

