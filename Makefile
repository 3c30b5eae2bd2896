# The two commands of README.md. Both run scripts/setup first, so a fresh machine needs nothing else.
SHELL := /bin/bash
RUN := source .venv/dmdw.env &&
# the kill-matrix pins run alone, after the rest: their defects are timing-dependent under -n 2
KILLS := tests/suites/test_kill_matrix_defects.py

.PHONY: setup failover test suites lint
setup:
	@scripts/setup

failover: setup          ## the main job: pytest suites/failover on the embedded default
	$(RUN) pytest suites/failover $(ARGS)

suites: setup            ## every suite (long)
	$(RUN) pytest suites $(ARGS)

test: setup              ## the project's own tests (what CI runs)
	$(RUN) pytest tests -m "not matrix" -n 2 --dist loadgroup --durations=40 --ignore=$(KILLS) $(ARGS)
	$(RUN) pytest $(KILLS) -m "not matrix" --durations=20 $(ARGS)

lint: setup
	$(RUN) ruff check harness emulator tests suites benchmarks
