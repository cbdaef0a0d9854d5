"""Real backing services (Redis, PostgreSQL) started on loopback for the tests, as pytest plugins
registered in ``tests/conftest.py``'s ``pytest_plugins``."""
