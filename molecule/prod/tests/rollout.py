"""An operator's day on the nine hosts: the scenario converged the previous release; here the release
in the working tree rolls out with site.yml while users search and an ingest runs, a web UI host and
then a worker host (mid-ingest) lose power, `make status` names them, site.yml brings them back, and
`make rollback` returns to the previous release, again under traffic.

The tests run in order and each leaves the lab to the next. Each prints a line
`ROLLOUT-FIGURES <step> <json>` that bench/rollout.py collects; figures are never asserted on time.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from traffic import THREADS, Traffic, summary  # noqa: E402
from verify_support import (  # noqa: E402
    ANSIBLE_ENV,
    BIN,
    INVENTORY,
    INVENTORY_FILE,
    ROOT,
    address,
    admin_credentials,
    ansible_playbook,
    changed_tasks,
    demo,
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
# Documents of one chunk each, so a collection's exact chunk count is its document count. The
# ingest during the rollout starts as vecpipe's host restarts and should outlast the workers' turns
# (about 40 documents a second in the lab; the figures show the state it was in at each turn).
INGEST_DOCUMENTS = 6000
RECAP = re.compile(r"^([\w.-]+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
STORY: dict = {}


def release(source: Path) -> str:
    return re.search(r'^version = "(.+)"', (source / "pyproject.toml").read_text(), re.M)[1]


def recap(stdout: str) -> dict[str, int]:
    """changed= of each host in a playbook's recap."""
    return {m[1]: int(m[3]) for m in RECAP.finditer(stdout)}


def figures(step: str, values: dict) -> None:
    print(f"\nROLLOUT-FIGURES {step} {json.dumps(values, sort_keys=True)}")


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


@pytest.fixture
def api():
    """Signed in afresh for each test: an access token lasts 15 minutes, the tests longer."""
    client = demo.Client(URL, None)
    username, password = admin_credentials()
    demo.login(client, username, password)
    model = INVENTORY.get_variables(LB)
    return {"client": client, "username": username, "password": password, "model": model}


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


def test_the_previous_release_runs_everywhere(api):
    previous = release(EPHEMERAL / "previous")
    assert previous != release(NEW_SOURCE), "the scenario needs two different releases"
    assert {host: running_release(host) for host in APP_HOSTS} == dict.fromkeys(APP_HOSTS, previous)
    STORY["search"] = ingest(api, "rollout-search", write_corpus("rollout-search", 40))


def test_an_upgrade_under_traffic_fails_no_request_and_the_ingest_completes(api):
    corpus = write_corpus("rollout-ingest", INGEST_DOCUMENTS)
    load = traffic(api).start()
    time.sleep(10)
    load.mark("start")
    running, turns = {}, []
    starter = threading.Thread(target=lambda: running.update(ingest(api, "rollout-ingest", corpus, False)))

    def at_each_turn() -> None:
        # The ingest starts with vecpipe's turn (from a thread: the playbook's output is read on
        # meanwhile); at each later turn, its state is noted.
        if not turns:
            starter.start()
            turns.append("starting")
        elif "operation" in running:
            turns.append(api["client"].call("GET", f"/api/v2/operations/{running['operation']}")["status"])
        else:
            turns.append("not started yet")

    seconds, _ = site_yml(at_each_turn)
    starter.join()
    assert running, "the ingest did not start: see the thread's exception above"
    load.mark("end")
    time.sleep(10)
    records = load.stop()
    finished = api["client"].wait_operation(running["operation"], 900)
    documents, vectors = counts(api, running["collection"])
    shown = windows(records, load.marks, "start", "end")
    # worker_host stays empty where the previous release's worker ran it: the old code against the
    # new schema. The new code fills it (test_a_worker_lost_mid_ingest_... relies on it).
    ingested = {"state_at_each_turn": turns, "worker_host": finished["worker_host"]}
    figures(
        "upgrade",
        {
            "rollout_s": round(seconds, 1),
            **shown,
            "ingest": [finished["status"], documents, vectors],
            **ingested,
        },
    )
    assert {host: running_release(host) for host in APP_HOSTS} == dict.fromkeys(
        APP_HOSTS, release(NEW_SOURCE)
    )
    assert [window["failed"] for window in shown.values()] == [0, 0, 0], shown
    assert (finished["status"], documents, vectors) == ("completed", INGEST_DOCUMENTS, INGEST_DOCUMENTS)


def test_a_lost_web_ui_host_costs_at_most_the_requests_it_held(api):
    load = traffic(api).start()
    time.sleep(10)
    load.mark("start")
    lab("poweroff", LOST_WEBUI)
    time.sleep(65)  # past nginx's read timeout (60 s) for requests the lost host held
    load.mark("end")
    records = load.stop()
    shown = windows(records, load.marks, "start", "end")
    figures("webui_lost", shown)
    assert shown["before"]["failed"] == 0, shown
    # At most one request per user was in flight on the lost host; the rest must go to the other.
    assert shown["during"]["failed"] + shown["after"]["failed"] <= THREADS, shown


def test_a_worker_lost_mid_ingest_leaves_its_operation_to_the_other(api):
    with lab_host(SURVIVING_WORKER).sudo():
        lab_host(SURVIVING_WORKER).check_output("systemctl stop semantik-worker")
    corpus = write_corpus("rollout-recovery", 1500, skip=(LOST_WEBUI,))
    running = ingest(api, "rollout-recovery", corpus, wait=False)
    client = api["client"]
    deadline = time.monotonic() + 300
    while (operation := client.call("GET", f"/api/v2/operations/{running['operation']}"))[
        "status"
    ] != "processing":
        assert time.monotonic() < deadline, operation
        time.sleep(0.5)
    assert operation["worker_host"] == LOST_WORKER, operation
    with lab_host(SURVIVING_WORKER).sudo():
        lab_host(SURVIVING_WORKER).check_output("systemctl start semantik-worker")
    time.sleep(3)
    lost_at = time.monotonic()
    lab("poweroff", LOST_WORKER)
    taken_over = None
    while (operation := client.call("GET", f"/api/v2/operations/{running['operation']}"))["status"] not in (
        "completed",
        "failed",
        "cancelled",
    ):
        if taken_over is None and operation["worker_host"] == SURVIVING_WORKER:
            taken_over = time.monotonic() - lost_at
        assert time.monotonic() - lost_at < 900, operation
        time.sleep(1)
    documents, vectors = counts(api, running["collection"])
    figures(
        "worker_lost",
        {
            "taken_over_s": round(taken_over, 1) if taken_over else None,
            "completed_s": round(time.monotonic() - lost_at, 1),
            "ingest": [operation["status"], operation["worker_host"], documents, vectors],
        },
    )
    assert (operation["status"], operation["worker_host"]) == ("completed", SURVIVING_WORKER), operation
    assert (documents, vectors) == (1500, 1500)


def test_make_status_names_the_lost_hosts():
    done = ansible_playbook(str(ROOT / "playbooks/status.yml"))
    shown = done.stdout + done.stderr  # a failed task's message goes to stderr
    unreachable = r"fatal: \[([\w-]+)\]: FAILED! .*Not healthy on \1: the host \(not reachable"
    named = set(re.findall(unreachable, shown))
    print(f"make status: rc {done.returncode}, names {sorted(named)} as not reachable")
    assert done.returncode != 0
    assert named == {LOST_WEBUI, LOST_WORKER}, shown[-3000:]
    assert len(re.findall(r"fatal: \[[\w-]+\]: FAILED!", shown)) == 2, shown[-3000:]


def test_site_yml_brings_the_lost_hosts_back_and_changes_nothing_else():
    lab("poweron", LOST_WEBUI, LOST_WORKER)
    seconds, done = site_yml()
    changed = recap(done.stdout)
    figures("brought_back", {"site_yml_s": round(seconds, 1), "changed": changed})
    assert set(changed) >= set(APP_HOSTS)
    assert {host: n for host, n in changed.items() if host not in (LOST_WEBUI, LOST_WORKER)} == dict.fromkeys(
        set(changed) - {LOST_WEBUI, LOST_WORKER}, 0
    ), changed_tasks(done.stdout)
    playbook(str(ROOT / "playbooks/status.yml"))


def test_a_rollback_under_traffic_fails_no_request(api):
    load = traffic(api).start()
    time.sleep(10)
    load.mark("start")
    began = time.monotonic()
    playbook(str(ROOT / "playbooks/rollback.yml"))
    seconds = time.monotonic() - began
    load.mark("end")
    time.sleep(10)
    records = load.stop()
    shown = windows(records, load.marks, "start", "end")
    figures("rollback", {"rollback_s": round(seconds, 1), **shown})
    previous = release(EPHEMERAL / "previous")
    assert {host: running_release(host) for host in APP_HOSTS} == dict.fromkeys(APP_HOSTS, previous)
    assert [window["failed"] for window in shown.values()] == [0, 0, 0], shown
