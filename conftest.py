"""Root conftest: loads the dmdw-harness pytest plugin for suites/ and tests/."""

pytest_plugins = ["harness.plugin"]
