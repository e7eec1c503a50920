"""The scenario tells one story, so its test files run in this order (each file's tests in theirs):
the upgrade from the previous release converge deployed, the checks of the upgraded stack, the loss
of two hosts and their return, and the rollback, which leaves the previous release running. The
files import from this folder and from molecule/ (verify_support).
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from rollout import LB, URL  # noqa: E402
from verify_support import INVENTORY, admin_credentials, demo  # noqa: E402

ORDER = ["test_upgrade.py", "test_prod.py", "test_tls.py", "test_host_loss.py", "test_rollback.py"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: ORDER.index(item.path.name))


@pytest.fixture
def api():
    """Signed in afresh for each test: an access token lasts 15 minutes, the tests longer."""
    client = demo.Client(URL, None)
    username, password = admin_credentials()
    demo.login(client, username, password)
    model = INVENTORY.get_variables(LB)
    return {"client": client, "username": username, "password": password, "model": model}
