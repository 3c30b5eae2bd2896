"""Checkers for the transactional workloads (bank, list-append, register, unique ids) over recorded
histories, and the op model they share. Pure Python: they judge JSONL histories, no database needed."""

from harness.checkers import edn
from harness.checkers.judge import judge
from harness.checkers.model import Anomaly, Operation, Result, operations
from harness.checkers.records import Recorded, declare, load

__all__ = ["Anomaly", "edn", "Operation", "Recorded", "Result", "declare", "judge", "load", "operations"]
