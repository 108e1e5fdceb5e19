"""Test configuration: the real-server fixtures live in tests/harness/ (README: "Development and tests")."""

pytest_plugins = ["tests.harness.fixtures"]
