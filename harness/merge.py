"""`python -m harness.merge RUN_DIR...`: the short name of `python -m harness.report.merge` (the issue's)."""

from harness.report.merge import main

if __name__ == "__main__":
    raise SystemExit(main())
