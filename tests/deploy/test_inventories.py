"""The inventories: dev and prod differ only in data, secrets only come from the wizard's vault."""

from __future__ import annotations

import re

import yaml
from deploy_support import ROOT

from support.tree import git

APP_GROUPS = {"webui", "vecpipe", "worker", "beat", "flower"}
GROUPS = APP_GROUPS | {"postgres", "redis", "qdrant", "lb", "gpu", "monitoring"}


def hosts(env: str) -> dict[str, set[str]]:
    children = yaml.safe_load((ROOT / "inventories" / env / "hosts.yml").read_text())["all"]["children"]
    return {group: set((spec or {}).get("hosts") or {}) for group, spec in children.items()}


def test_every_inventory_links_the_one_wiring() -> None:
    for env in ("dev", "prod"):
        link = ROOT / "inventories" / env / "group_vars/all/wiring.yml"
        assert link.is_symlink() and link.resolve() == ROOT / "inventories/wiring.yml", env


def test_both_inventories_define_every_group() -> None:
    for env in ("dev", "prod"):
        assert set(hosts(env)) == GROUPS, env


def test_dev_runs_every_tier_on_one_host_with_the_embedded_store() -> None:
    groups = hosts("dev")
    assert {host for members in groups.values() for host in members} == {"semantik-dev"}
    assert all(groups[g] == {"semantik-dev"} for g in GROUPS - {"qdrant"})
    assert groups["qdrant"] == set()


def test_prod_has_one_beat_and_the_gpu_hosts_run_vecpipe() -> None:
    groups = hosts("prod")
    assert len(groups["beat"]) == 1
    assert groups["gpu"] == groups["vecpipe"]
    assert len(groups["qdrant"]) == 1  # more than one vecpipe host: a Qdrant server


def test_vaults_are_the_wizards_and_never_tracked() -> None:
    """A clone has no vault.yml: the wizard writes one per machine, so no rerun leaves git status dirty."""
    for env in ("dev", "prod"):
        vault = f"inventories/{env}/group_vars/all/vault.yml"
        assert not git("ls-files", vault).stdout, f"{vault} is tracked"
        assert git("check-ignore", "-q", vault).returncode == 0, f"{vault} is not ignored"


def test_no_secret_outside_the_vault() -> None:
    """Every password or key in group_vars is a reference to a vault_ variable."""
    secret_name = re.compile(r"(password|secret|api_key|basic_auth|database_url|redis_url)\b", re.I)
    for path in (ROOT / "inventories").rglob("*.yml"):
        if path.name == "vault.yml" or "host_vars" in path.parts:
            continue
        for line in path.read_text().splitlines():
            key, _, value = line.partition(":")
            if secret_name.search(key) and value.strip() and not line.lstrip().startswith("#"):
                assert "vault_" in value or value.strip() in ("''", '""', "flower"), f"{path}: {line}"


def test_every_vault_reference_is_a_wizard_secret() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("wizard", ROOT / "ansible/wizard.py")
    wizard = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wizard)
    for env in ("dev", "prod"):
        group_vars = ROOT / "inventories" / env / "group_vars/all"
        text = "".join((group_vars / name).read_text() for name in ("main.yml", "wiring.yml"))
        used = set(re.findall(r"\bvault_\w+", text))
        assert used and used <= set(wizard.SECRETS), used - set(wizard.SECRETS)


def test_password_files_are_ignored_by_git() -> None:
    for env in ("dev", "prod"):
        assert ".vault_pass" in (ROOT / "inventories" / env / ".gitignore").read_text().split()
