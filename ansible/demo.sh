#!/usr/bin/env bash
# `make demo`, after `make dev`: the vault, then the lab host and the wheelhouse side by side (one
# boots a Debian image, the other fetches wheels: neither waits on the other), the dev stack, and the
# sample documents ingested and searched through nginx. Ends with how long each phase took.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
declare -a timings=()
row() { timings+=("$(printf '  %-40s %4d s' "$1" "$2")"); }
# make's start, when make ran it: the venv (make dev) and the tools came first.
[ -z "${DEMO_STARTED:-}" ] || row "venv and tools (make dev)" $(($(date +%s) - DEMO_STARTED))
phase() {  # phase NAME COMMAND...: run it, note its time
    local name=$1 start=$SECONDS
    shift
    "$@"
    row "$name" $((SECONDS - start))
}
side_by_side() {  # the lab host in the background, its output kept for when it fails
    local log=build/demo-lab.log status=0
    mkdir -p build
    ansible-playbook ansible/dev-lab.yml >"$log" 2>&1 &
    local lab=$!
    ansible-playbook -i inventories/dev playbooks/wheelhouse.yml || status=$?
    wait "$lab" || { cat "$log"; echo "demo: the lab host did not come up (above; $log)" >&2; return 1; }
    tail -n 3 "$log"
    return "$status"
}
[ -f inventories/dev/.vault_pass ] || phase "vault (make wizard)" python ansible/wizard.py dev
phase "lab host and wheelhouse, side by side" side_by_side
# The one-host dev layout converges with Mitogen's strategy unless told (README, "Speed").
phase "converge (site.yml)" env ANSIBLE_STRATEGY="${ANSIBLE_STRATEGY:-mitogen_linear}" \
    ansible-playbook -i inventories/dev site.yml
phase "ingest and search (ansible/demo.yml)" ansible-playbook -i inventories/dev ansible/demo.yml
row total $(($(date +%s) - ${DEMO_STARTED:-$(($(date +%s) - SECONDS))}))
echo 'demo: how long each phase took'
printf '%s\n' "${timings[@]}"
