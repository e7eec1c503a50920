#!/usr/bin/env python3
"""`make wizard ENV=<env>`: strong secrets into inventories/<env>/group_vars/all/vault.yml.

The vault is encrypted with ansible-vault under the vault id <env>, with a password this script
generates into inventories/<env>/.vault_pass (mode 0600, ignored by git). ansible.cfg finds the
password through ansible/vault-pass-client.py, so `ansible-playbook -i inventories/<env> site.yml`
needs no password option.

- No password file (a fresh clone): a new password and all new secrets; the vault is rewritten.
- Password file and a vault it opens: secrets already there are kept, missing ones are added;
  when nothing is missing the file is left byte for byte as it is.
- --rotate NAME (repeatable) or --rotate-all: new values for those secrets.

Secrets are never printed, only their names. Each new one is checked against the rules the
services apply in production (length, no placeholder words, entropy); see semantik's config.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import stat
import sys
from collections import Counter
from pathlib import Path

import yaml

from semantik.shared.config import PLACEHOLDERS  # the words production refuses

ROOT = Path(__file__).resolve().parents[1]
# name -> length in characters (URL-safe alphabet: usable in URLs, env files and YAML unquoted).
SECRETS = {
    "vault_postgresql_password": 32,
    "vault_redis_password": 32,
    "vault_redis_app_password": 32,
    "vault_jwt_secret_key": 64,
    "vault_internal_api_key": 48,
    "vault_flower_password": 32,
    "vault_qdrant_api_key": 48,
    # The first administrator's, created by the deployment (`semantik create-user --superuser`).
    "vault_semantik_admin_password": 32,
}
HEADER = (
    "# Written by `make wizard ENV={env}` (ansible/wizard.py). Encrypted with ansible-vault, vault id\n"
    "# {env}; the password is in inventories/{env}/.vault_pass; git ignores both. Referenced as\n"
    "# vault_* from group_vars/all/ (main.yml, wiring.yml). Edit with:\n"
    "#   ansible-vault edit --vault-id {env}@ansible/vault-pass-client.py FILE\n"
)


def strong(value: str) -> bool:
    lowered = value.lower()
    if any(word in lowered for word in PLACEHOLDERS) or value[0] in "-_":
        return False
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values()) >= 4.0


def generate(length: int) -> str:
    while True:
        value = secrets.token_urlsafe(length)[:length]
        if strong(value):
            return value


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def write_private(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(data)
    os.replace(path.with_suffix(".tmp"), path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("env", help="inventory name under inventories/ (dev, prod)")
    parser.add_argument("--rotate", action="append", default=[], choices=sorted(SECRETS), metavar="NAME")
    parser.add_argument("--rotate-all", action="store_true")
    parser.add_argument("--inventory-dir", type=Path, help="default: inventories/<env> of this repository")
    args = parser.parse_args(argv)
    # Imported here, not at module level: ansible patches sys.intern on import, which breaks torch
    # in any process that imports this module only to read SECRETS (the tests do).
    from ansible.parsing.vault import VaultLib, VaultSecret

    inventory = (args.inventory_dir or ROOT / "inventories" / args.env).resolve()
    if not (inventory / "hosts.yml").exists():
        print(f"wizard: no inventory at {inventory}", file=sys.stderr)
        return 1
    password_file = inventory / ".vault_pass"
    vault_file = inventory / "group_vars" / "all" / "vault.yml"
    current: dict[str, str] = {}
    if password_file.exists():
        if stat.S_IMODE(password_file.stat().st_mode) & 0o077:
            password_file.chmod(0o600)
        password = password_file.read_text().strip()
        vault = VaultLib([(args.env, VaultSecret(password.encode()))])
        if vault_file.exists():
            try:
                current = yaml.safe_load(vault.decrypt(vault_file.read_bytes())) or {}
            except Exception as error:  # noqa: BLE001 - any failure means: this password does not open it
                print(
                    f"wizard: {vault_file} does not open with {password_file} ({error.__class__.__name__});"
                    " writing new secrets",
                    file=sys.stderr,
                )
    else:
        password = generate(64)
        write_private(password_file, password + "\n")
        print(f"wizard: new vault password in {shown(password_file)} (keep it safe, never commit it)")
    rotate = set(SECRETS) if args.rotate_all else set(args.rotate)
    values = {name: value for name, value in current.items() if name not in rotate}
    added = [name for name in SECRETS if name not in values]
    for name in added:
        values[name] = generate(SECRETS[name])
    if not added and vault_file.exists() and current:
        print(f"wizard: {shown(vault_file)} already holds every secret; unchanged")
        return 0
    vault = VaultLib([(args.env, VaultSecret(password.encode()))])
    text = HEADER.format(env=args.env) + yaml.safe_dump(
        dict(sorted(values.items())), default_flow_style=False
    )
    vault_file.parent.mkdir(parents=True, exist_ok=True)
    vault_file.write_bytes(vault.encrypt(text, vault_id=args.env))
    vault_file.chmod(0o600)
    print(f"wizard: {shown(vault_file)}: {len(added)} new secret(s): {', '.join(added)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
