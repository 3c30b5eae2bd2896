"""`python -m harness.trend REPORTS_DIR`: the short name of `python -m harness.report.trend` (the issue's)."""

from harness.report.trend import main

if __name__ == "__main__":
    raise SystemExit(main())
