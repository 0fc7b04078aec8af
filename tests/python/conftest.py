"""Fixtures shared by the client tests: where the node is and how to reach it as admin.

Environment (set by tests/api/clients.rs):
  ACCESS_URL             base URL of the node, e.g. http://127.0.0.1:18082 (required)
  ACCESS_ADMIN_USER      admin user name (default "admin")
  ACCESS_ADMIN_PASSWORD  admin password (required)
  ACCESS_ROOT_CRT        PEM self-signed certificate holding the node's RSA public key
"""
import os

import pytest


def env(name, default=None):
    value = os.environ.get(name, default)
    if not value:
        # Fail, never skip: a run without a server must not look green.
        pytest.fail(f"environment variable {name} is not set", pytrace=False)
    return value


@pytest.fixture(scope="session")
def base():
    return env("ACCESS_URL").rstrip("/")


@pytest.fixture(scope="session")
def admin():
    return (env("ACCESS_ADMIN_USER", "admin"), env("ACCESS_ADMIN_PASSWORD"))
