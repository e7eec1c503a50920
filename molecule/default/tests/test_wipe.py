"""make stop, start and wipe on a real host; last of the scenario's tests, since the wipe empties it.

After stop and start the same rows, vectors and results; a wipe refused (a wrong name, no name,
production without its second variable) changes nothing; a wipe takes a backup, then leaves an
empty stack that works: the demo ingests and finds its documents again.
"""

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from test_backup import TARGET, URL, VECTOR_COUNTS, playbook, state  # noqa: E402
from verify_support import ROOT, admin_credentials, ansible_playbook, demo, redis_cli  # noqa: E402

testinfra_hosts = [TARGET]
SERVICES = ["webui", "flower", "beat", "worker", "vecpipe"]
STORES = ["postgresql", "redis-server", "nginx"]


@pytest.fixture(scope="module")
def client():
    playbook(str(ROOT / "ansible/demo.yml"))  # the demo's collection, whichever tests ran before
    client = demo.Client(URL, None)
    demo.login(client, *admin_credentials())
    return client


def active(host) -> dict[str, str]:
    units = [f"semantik-{s}" for s in SERVICES] + ["semantik-vecpipe.socket", *STORES]
    with host.sudo():
        return dict(
            zip(units, host.run(f"systemctl is-active {' '.join(units)}").stdout.split(), strict=True)
        )


def test_stop_keeps_every_byte_and_start_brings_back_the_same_results(host, client):
    before = state(host, client)

    playbook(str(ROOT / "playbooks/stop.yml"))
    stopped = active(host)
    _, out = playbook(str(ROOT / "playbooks/start.yml"))

    assert {unit: s for unit, s in stopped.items() if unit.startswith("semantik-")} == dict.fromkeys(
        [f"semantik-{s}" for s in SERVICES] + ["semantik-vecpipe.socket"], "inactive"
    )
    assert [stopped[unit] for unit in STORES] == ["active"] * len(STORES)  # the data stays up
    order = re.findall(r"included: \S+ for [\w, -]+ => \(item=([a-z, ]+)\)", out)
    assert order == ["vecpipe", "worker, beat", "flower", "webui"], order
    assert set(active(host).values()) == {"active"}
    assert state(host, client) == before


@pytest.mark.parametrize(
    "extra",
    [
        ["-e", "wipe_confirm=prod"],  # not its name
        [],  # no terminal to type it on: nothing typed
        ["-e", "semantik_environment=production", "-e", "wipe_confirm=production"],  # once is not enough
    ],
    ids=["wrong name", "no name", "production"],
)
def test_a_refused_wipe_changes_nothing(host, client, extra):
    before = state(host, client)
    done = ansible_playbook(str(ROOT / "playbooks/wipe.yml"), *extra)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Not wiped" in out and "Nothing changed" in out, out[-3000:]
    assert "Back up first" not in out and "Stop the Semantik services" not in out
    assert state(host, client) == before


def test_a_wipe_backs_up_first_and_leaves_an_empty_stack_that_works(host, client, tmp_path_factory):
    before = state(host, client)
    redis_cli(host, "SET", "wipe:marker", "here")
    root = tmp_path_factory.mktemp("wipe-backups")

    seconds, out = playbook(
        str(ROOT / "playbooks/wipe.yml"), "-e", "wipe_confirm=development", "-e", f"backup_root={root}"
    )

    (backup,) = list(root.iterdir())
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["database"]["rows"]["documents"] == before["rows"]["documents"]
    with host.sudo("postgres"):
        rows = host.check_output(
            "psql -XAt -d semantik -c %s",
            "SELECT (SELECT count(*) FROM documents), "
            "(SELECT count(*) FROM collections), (SELECT count(*) FROM users)",
        )
    with host.sudo():
        vectors = json.loads(host.check_output("sh -c %s", VECTOR_COUNTS))
    assert (rows, vectors, redis_cli(host, "EXISTS", "wipe:marker")) == (
        "0|0|1",
        {},
        "0",
    )  # only the administrator, made again
    assert set(active(host).values()) == {"active"}

    report_file = tmp_path_factory.mktemp("wipe-demo") / "report.json"
    playbook(str(ROOT / "ansible/demo.yml"), "-e", f"demo_report={report_file}")
    report = json.loads(report_file.read_text())
    assert report["collection"]["document_count"] >= 8
    assert all(search["passed"] for search in report["searches"]), report["searches"]
    print(f"wipe, its backup first: {seconds:.1f} s; the demo then ingests and finds its documents")
