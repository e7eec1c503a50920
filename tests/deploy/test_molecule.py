"""The stack on real hosts: `molecule test` of each scenario (create, prepare, converge, idempotence
with 0 changed, verify, destroy): default (the dev stack on one host: the backup and restore round trip
and the timer, its hardening and network, the web page, make dev-local, stop, start and wipe; 14
minutes beside the other tests on two cores) and prod (the prod inventory on nine hosts: the previous
release converged, then the upgrade under traffic; placement, the path through the lb, status, the
firewall matrix, TLS; two hosts lost and brought back; the rollback; 19 minutes alone, 21 beside the
other tests, without an idempotence step, see its molecule.yml).

default reads inventories/dev's group_vars, prod inventories/prod's, so that vault must open: on a
fresh clone (no password file) this runs the wizard first, as `make wizard ENV=<env>` would: new
secrets in vault.yml, which git ignores.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from deploy_support import BIN, ROOT

pytestmark = pytest.mark.lab


# Each scenario and the environment whose variables (and vault) it uses.
SCENARIOS = {"default": "dev", "prod": "prod"}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_molecule_scenario_passes(scenario: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    environment = SCENARIOS[scenario]
    if not (ROOT / f"inventories/{environment}/.vault_pass").exists():
        subprocess.run([sys.executable, str(ROOT / "ansible/wizard.py"), environment], check=True)
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    done = subprocess.run(
        [str(BIN / "molecule"), "test", "-s", scenario],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=5400,  # prod took 21 to 52 minutes beside the other tests, as the machine's day went
    )
    # The whole output, kept (git-ignored): the figures the scenarios print, what failed and why.
    log = ROOT / "build" / f"molecule-{scenario}.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, f"see {log}\n" + (done.stdout + done.stderr)[-6000:]


def test_molecules_ansible_settings_are_ansible_cfgs() -> None:
    """Molecule writes its own ansible.cfg from .config/molecule/config.yml: what both set must agree
    (the keepalives missing there let a lost host hang a scenario's `make status` for 15 minutes)."""
    import configparser

    import yaml

    project = configparser.ConfigParser(interpolation=None)
    project.read(ROOT / "ansible.cfg")
    molecule = yaml.safe_load((ROOT / ".config/molecule/config.yml").read_text())["ansible"]["cfg"]
    compared = [(s, key) for s in molecule for key in molecule[s] if project.has_option(s, key)]
    assert ("ssh_connection", "ssh_args") in compared
    for section, key in compared:
        theirs, ours = str(molecule[section][key]).lower(), project.get(section, key).lower()
        assert theirs.replace("${molecule_project_directory}/", "") == ours, (section, key)
