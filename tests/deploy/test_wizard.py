"""`make wizard`: strong secrets, encrypted, kept on a rerun, rotated on request, never printed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_support import NOT_IN_A_CLONE, ROOT, secrets_of

pytestmark = pytest.mark.integration  # the wizard, ansible-vault

WIZARD = str(ROOT / "ansible/wizard.py")


def run(inventory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, WIZARD, "dev", "--inventory-dir", str(inventory), *args],
        capture_output=True,
        text=True,
        check=True,
    )


def fresh_clone(tmp_path: Path) -> Path:
    inventory = tmp_path / "dev"
    shutil.copytree(ROOT / "inventories/dev", inventory, ignore=NOT_IN_A_CLONE)
    return inventory


def test_a_fresh_clone_gets_a_password_file_and_strong_secrets(tmp_path: Path) -> None:
    inventory = fresh_clone(tmp_path)
    done = run(inventory)
    assert (inventory / ".vault_pass").stat().st_mode & 0o777 == 0o600
    header = (inventory / "group_vars/all/vault.yml").read_text().splitlines()[0]
    assert header == "$ANSIBLE_VAULT;1.2;AES256;dev"
    values = secrets_of(inventory)
    assert set(values) >= {"vault_postgresql_password", "vault_jwt_secret_key", "vault_internal_api_key"}
    sys.path.insert(0, str(ROOT / "app"))
    from semantik.shared.config import MIN_PASSWORD_LENGTH, weakness

    for name, value in values.items():
        assert weakness(value, MIN_PASSWORD_LENGTH) is None, name
        assert value not in done.stdout + done.stderr


def test_a_rerun_keeps_the_file_byte_for_byte(tmp_path: Path) -> None:
    inventory = fresh_clone(tmp_path)
    run(inventory)
    before = (inventory / "group_vars/all/vault.yml").read_bytes()
    assert "unchanged" in run(inventory).stdout
    assert (inventory / "group_vars/all/vault.yml").read_bytes() == before


def test_rotation_replaces_only_the_named_secret(tmp_path: Path) -> None:
    inventory = fresh_clone(tmp_path)
    run(inventory)
    before = secrets_of(inventory)
    run(inventory, "--rotate", "vault_jwt_secret_key")
    after = secrets_of(inventory)
    assert after["vault_jwt_secret_key"] != before["vault_jwt_secret_key"]
    assert {k: v for k, v in after.items() if k != "vault_jwt_secret_key"} == {
        k: v for k, v in before.items() if k != "vault_jwt_secret_key"
    }
