"""What the operator's-day tests share (test_upgrade.py, test_host_loss.py, test_rollback.py): the
hosts, site.yml run as an operator runs it, a corpus written onto the hosts, an ingest through the
API, the load generator's windows, and the `ROLLOUT-FIGURES <step> <json>` lines bench/rollout.py
collects (figures are never asserted on time).
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from traffic import Traffic, summary
from verify_support import (
    ANSIBLE_ENV,
    BIN,
    INVENTORY,
    INVENTORY_FILE,
    ROOT,
    address,
    ansible_playbook,
    lab_host,
)

EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
# prepare.yml froze both: the previous release (what converge deployed) and the working tree's.
NEW_SOURCE = EPHEMERAL / "source"
LAB = ROOT / "ansible/lab/lab.py"
GROUPS = INVENTORY.get_variables("prod-probe")["groups"]
LB = GROUPS["lb"][0]
URL = f"https://{address(LB)}"
APP_HOSTS = sorted({h for g in ("webui", "vecpipe", "worker", "beat", "flower") for h in GROUPS[g]})
LOST_WEBUI, LOST_WORKER = GROUPS["webui"][-1], GROUPS["worker"][-1]
SURVIVING_WORKER = GROUPS["worker"][0]
DOCS_ROOT = "/srv/semantik/documents"
RECAP = re.compile(r"^([\w.-]+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
STORY: dict = {}


def release(source: Path) -> str:
    return re.search(r'^version = "(.+)"', (source / "pyproject.toml").read_text(), re.M)[1]


def recap(stdout: str) -> dict[str, int]:
    """changed= of each host in a playbook's recap."""
    return {m[1]: int(m[3]) for m in RECAP.finditer(stdout)}


def figures(step: str, values: dict) -> None:
    print(f"\nROLLOUT-FIGURES {step} {json.dumps(values, sort_keys=True)}")


def slowest_tasks(step: str, stdout: str, count: int = 8) -> None:
    """Where a run's time went: its slowest tasks, from the recap of profile_tasks (molecule's
    ansible.cfg enables it), printed as `ROLLOUT-SLOWEST <step> <task> <seconds>` lines."""
    recap = stdout.rpartition("TASKS RECAP")[2]
    for task, seconds in re.findall(r"^(\S.*?) -+ (\d+\.\d+)s$", recap, re.M)[:count]:
        print(f"ROLLOUT-SLOWEST {step} {task} {seconds}")


def vecpipe_journal(minutes: int = 15) -> str:
    """vecpipe's log of the last minutes, on its host: for a failed window's message (its stops and
    starts, and how long the model and the store took to load)."""
    host = GROUPS["vecpipe"][0]
    with lab_host(host).sudo():
        done = lab_host(host).run(f"journalctl -u semantik-vecpipe --since -{minutes}min -o short-precise")
    return done.stdout[-6000:]


def playbook(*args: str) -> subprocess.CompletedProcess:
    done = ansible_playbook(*args)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return done


def site_yml(at_each_turn=None) -> tuple[float, subprocess.CompletedProcess]:
    """site.yml with the working tree's release, timed; `at_each_turn()` is called as each host's turn
    in its app play (the host-by-host restarts: vecpipe, workers, web UI) begins."""
    began = time.monotonic()
    argv = [str(BIN / "ansible-playbook"), "-i", INVENTORY_FILE, str(ROOT / "site.yml")]
    argv += ["-e", f"python_app_wheelhouse_project={NEW_SOURCE}"]
    with subprocess.Popen(argv, cwd=ROOT, env=ANSIBLE_ENV, stdout=subprocess.PIPE, text=True) as run:
        lines = []
        for line in run.stdout:
            lines.append(line)
            # The play's banner comes again for each host (serial: 1).
            if at_each_turn and line.startswith("PLAY [Deploy the Semantik services]"):
                at_each_turn()
        stdout = "".join(lines)
    assert run.returncode == 0, stdout[-4000:]
    return time.monotonic() - began, subprocess.CompletedProcess(argv, 0, stdout, "")


def lab(command: str, *hosts: str) -> None:
    subprocess.run([sys.executable, str(LAB), command, *hosts], check=True, capture_output=True)


def running_release(host: str) -> str:
    return lab_host(host).check_output(
        "/opt/semantik/venv/bin/python -c 'import importlib.metadata as m; print(m.version(\"semantik\"))'"
    )


def write_corpus(name: str, count: int, skip: tuple[str, ...] = ()) -> str:
    """`count` one-chunk text documents under DOCS_ROOT/name on every worker and web UI host (but
    `skip`: hosts that are off)."""
    path = f"{DOCS_ROOT}/{name}"
    script = (
        "import pathlib,sys; root=pathlib.Path(sys.argv[1]); root.mkdir(parents=True, exist_ok=True)\n"
        "for n in range(int(sys.argv[2])):\n"
        "    (root/f'doc-{n:05d}.txt').write_text(f'Rollout note {n}: document {n} of the corpus, "
        "written so that every word of it fits in a single chunk of the collection.\\n')"
    )
    for host in sorted(set(GROUPS["worker"] + GROUPS["webui"]) - set(skip)):
        with lab_host(host).sudo():
            done = lab_host(host).run(
                "python3 -c %s %s %s && chmod -R a+rX %s", script, path, str(count), path
            )
        assert done.rc == 0, (host, done.stderr)
    return path


def ingest(api, name: str, path: str, wait: bool = True) -> dict:
    """A collection over the documents at `path`; its ingest operation (finished if `wait`)."""
    client = api["client"]
    collection = client.call(
        "POST",
        "/api/v2/collections",
        {
            "name": name,
            "embedding_model": api["model"]["semantik_default_embedding_model"],
            "quantization": api["model"]["semantik_default_quantization"],
            "chunk_size": 400,
            "chunk_overlap": 50,
        },
    )
    if collection.get("initial_operation_id"):
        client.wait_operation(collection["initial_operation_id"], 300)
    operation = client.call(
        "POST",
        f"/api/v2/collections/{collection['id']}/sources",
        {"source_type": "directory", "source_config": {"path": path, "recursive": True}},
    )
    if wait:
        operation = client.wait_operation(operation["id"], 600)
        assert operation["status"] == "completed", operation
    return {"collection": collection["id"], "operation": operation["id"]}


def counts(api, collection: str) -> tuple[int, int]:
    found = api["client"].call("GET", f"/api/v2/collections/{collection}")
    return found["document_count"], found["vector_count"]


def traffic(api) -> Traffic:
    return Traffic(
        URL, api["username"], api["password"], STORY["search"]["collection"], STORY["search"]["operation"]
    )


def windows(records, marks: dict[str, float], start: str, end: str) -> dict:
    return {
        "before": summary(records, None, marks[start]),
        "during": summary(records, marks[start], marks[end]),
        "after": summary(records, marks[end], None),
    }
