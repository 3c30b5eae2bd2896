"""Failover suite fixtures: the shared runbook (seed 十二.2 / 十二.3 operator steps) and DW_MODE AUTO."""

from suites.failover.runbook import auto_mode, runbook  # noqa: F401 - fixtures

