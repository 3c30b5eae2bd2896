"""dmdw-harness: a pytest harness for DM8 Data Watch (see DESIGN.md and harness/ARCHITECTURE.md)."""

__version__ = "0.1.0"
