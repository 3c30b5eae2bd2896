"""Root conftest: loads the dmdw-harness pytest plugins for suites/ and tests/."""

pytest_plugins = ["harness.plugin", "harness.report"]
