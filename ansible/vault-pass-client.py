#!/usr/bin/env python3
"""Ansible vault password client: prints inventories/<vault id>/.vault_pass.

ansible.cfg names it once per environment (vault_identity_list = dev@ansible/vault-pass-client.py,
prod@ansible/vault-pass-client.py); Ansible calls it with --vault-id <env>. `make wizard ENV=<env>`
writes the file. A missing one yields a password that opens nothing, so working on one environment
needs no password of another, and a vault of a missing one fails to decrypt, naming its file.
"""

import argparse
import secrets
import sys
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--vault-id", required=True)
args = parser.parse_args()
if not args.vault_id.replace("-", "").replace("_", "").isalnum():
    sys.exit(f"vault-pass-client: bad vault id {args.vault_id!r}")
path = Path(__file__).resolve().parents[1] / "inventories" / args.vault_id / ".vault_pass"
if path.is_file():
    sys.stdout.write(path.read_text().strip() + "\n")
else:
    sys.stdout.write(f"no-password-{secrets.token_hex(16)}\n")
