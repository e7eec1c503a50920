"""Molecule's prod scenario runs beside the rest of the suite: nine hosts converged, upgraded and
rolled back take about a third of `make test`, and much of it is spent waiting on the hosts (health
gates, traffic, a lost host's timeouts) while the other tests could use the CPU. It starts once the
tests are collected, if its test is among them; that test, moved to the end, waits for it.
"""

from __future__ import annotations

import os

import pytest
from deploy_support import BESIDE, Scenario

SCENARIO = "prod"
TEST = f"test_molecule.py::test_molecule_scenario_passes[{SCENARIO}]"


def _is_it(item: pytest.Item) -> bool:
    return item.nodeid.endswith(TEST)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Last but for the tree's check (tests/conftest.py), which must see what the scenario left.
    waiting = [item for item in items if _is_it(item)]
    if waiting:
        items.remove(waiting[0])
        at = next((i for i, item in enumerate(items) if item.path.name == "test_tree.py"), len(items))
        items.insert(at, waiting[0])


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly or os.geteuid() != 0:
        return
    if any(_is_it(item) for item in session.items):
        BESIDE[SCENARIO] = Scenario(SCENARIO).start()


def pytest_sessionfinish() -> None:
    for scenario in BESIDE.values():
        scenario.stop()
