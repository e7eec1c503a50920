"""Backups on a real host: the round trip, a corrupted backup refused, the scheduled backup.

The tests run in file order: the sample documents are ingested, backed up to the controller,
the data destroyed and restored; then a backup kept on the host itself has one byte changed and
its restore is refused; then the timer's service runs once.
"""

import json
import stat
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from verify_support import ROOT, address, admin_credentials, ansible_playbook, demo  # noqa: E402

TARGET = "mol-semantik"
testinfra_hosts = [TARGET]
URL = f"https://{address(TARGET)}"
TABLES = [
    "users",
    "refresh_tokens",
    "api_keys",
    "collections",
    "collection_sources",
    "documents",
    "operations",
]
QUERIES = [
    "How do honeybees tell each other where the flowers are?",
    "Who looked after the lamp of a lighthouse at night?",
    "Why does ice slowly flow downhill?",
    "What makes a volcano erupt?",
    "Why does the sea rise and fall twice a day?",
]
# vecpipe's collections and their counts, asked on the host with vecpipe's own key.
VECTOR_COUNTS = """set -a; . /etc/semantik/vecpipe.env; exec python3 -c '
import json, os, urllib.request
def get(path):
    request = urllib.request.Request("http://127.0.0.1:8000" + path,
                                     headers={"X-Internal-Api-Key": os.environ["INTERNAL_API_KEY"]})
    return json.load(urllib.request.urlopen(request))
names = get("/collections")["collections"]
print(json.dumps({n: get(f"/collections/{n}/count")["count"] for n in names}))'"""


# What under a backup directory on the host is not a 0700 directory or a 0600 file (backups hold
# every secret of the environment).
NOT_PRIVATE = r"find {} \( -type d ! -perm 0700 \) -o \( -type f ! -perm 0600 \) -o \( ! -type d ! -type f \)"


def not_private(top: Path) -> list[str]:
    """The same on the controller."""
    wrong = []
    for path in [top, *top.rglob("*")]:
        info = path.lstat()
        mode = stat.S_IMODE(info.st_mode)
        if not (stat.S_ISDIR(info.st_mode) and mode == 0o700 or stat.S_ISREG(info.st_mode) and mode == 0o600):
            wrong.append(f"{path} {oct(mode)}")
    return wrong


def playbook(*args: str) -> tuple[float, str]:
    start = time.monotonic()
    done = ansible_playbook(*args)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    return time.monotonic() - start, out


def state(host, client) -> dict:
    """Row counts, vector counts, and the top 5 of each query, dense and hybrid, through the public API."""
    counts = ", ".join(f"(SELECT count(*) FROM {table})" for table in TABLES)
    with host.sudo("postgres"):
        rows = host.check_output(f'psql -XAt -d semantik -c "SELECT {counts}"').split("|")
    with host.sudo():
        vectors = json.loads(host.check_output("sh -c %s", VECTOR_COUNTS))
    collection = next(
        c
        for c in client.call("GET", "/api/v2/collections?per_page=100")["collections"]
        if c["name"] == "demo"
    )
    top = {}
    for query in QUERIES:
        for mode in ("dense", "hybrid"):  # hybrid: the sparse index comes back with the vectors
            body = {"collection_id": collection["id"], "query": query, "k": 5, "search_mode": mode}
            answer = client.call("POST", "/api/v2/search/single", body)
            top[f"{mode}: {query}"] = [
                (r["document_id"], r["chunk_id"], round(r["score"], 4)) for r in answer["results"]
            ]
    return {"rows": dict(zip(TABLES, map(int, rows), strict=True)), "vectors": vectors, "top": top}


@pytest.fixture(scope="module")
def ingested():
    _, out = playbook(str(ROOT / "ansible/demo.yml"))
    assert "[ok]" in out


@pytest.fixture(scope="module")
def client(ingested):
    """Logged in once: a login writes a refresh token, which would change the row counts."""
    client = demo.Client(URL, None)
    demo.login(client, *admin_credentials())
    return client


def test_round_trip_gives_back_the_same_rows_vectors_and_results(host, client, tmp_path_factory):
    before = state(host, client)
    assert before["rows"]["documents"] >= 8 and sum(before["vectors"].values()) >= 8
    assert all(len(results) == 5 for results in before["top"].values())
    root = tmp_path_factory.mktemp("backups")

    backup_seconds, _ = playbook(str(ROOT / "backup.yml"), "-e", f"backup_root={root}")
    (backup,) = list(root.iterdir())
    manifest = json.loads((backup / "manifest.json").read_text())
    assert not_private(root) == []
    assert manifest["database"]["rows"]["documents"] == before["rows"]["documents"]
    assert manifest["vectors"] == sum(before["vectors"].values())

    # The bad day: the database dropped, the vector store wiped.
    with host.sudo("postgres"):
        host.check_output("dropdb --force semantik")
    with host.sudo():
        # The socket too: a connection to it would start vecpipe again.
        host.check_output("systemctl stop semantik-vecpipe.socket semantik-vecpipe")
        host.check_output("rm -rf /var/lib/semantik/qdrant")
        host.check_output("systemctl start semantik-vecpipe")
        assert host.run("sudo -u postgres psql -XAt -d semantik -c 'SELECT 1'").rc != 0

    restore_seconds, out = playbook(str(ROOT / "restore.yml"), "-e", f"backup_root={root}")
    assert f"Restoring {backup.name}" in out

    assert state(host, client) == before
    size, files = sum(f["size"] for f in manifest["files"]), len(manifest["files"])
    print(f"backup {backup_seconds:.1f} s, restore {restore_seconds:.1f} s, {size} bytes in {files} files")


def test_a_backup_with_one_byte_changed_is_refused_before_anything_is_touched(host, ingested):
    remote = ["-e", f"backup_target_host={TARGET}", "-e", "backup_root=/var/backups/semantik-ops"]
    playbook(str(ROOT / "backup.yml"), *remote)
    with host.sudo():
        assert host.check_output(NOT_PRIVATE.format("/var/backups/semantik-ops")) == ""
        dump = host.check_output("ls -d /var/backups/semantik-ops/*/postgres/semantik.dump")
        host.check_output(
            'python3 -c \'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); '
            f'b[len(b) // 2] ^= 1; open(p, "wb").write(b)\' {dump}'
        )
        started = host.check_output("systemctl show -p ActiveEnterTimestamp semantik-webui semantik-vecpipe")

    done = ansible_playbook(str(ROOT / "restore.yml"), *remote)

    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "postgres/semantik.dump: sha256 differs from the manifest" in out, out[-3000:]
    assert "Stop the Semantik services" not in out
    with host.sudo():
        assert (
            host.check_output("systemctl show -p ActiveEnterTimestamp semantik-webui semantik-vecpipe")
            == started
        )


def test_a_failed_backup_leaves_nothing_that_looks_complete(host, ingested, tmp_path_factory):
    root = tmp_path_factory.mktemp("failed-backups")
    with host.sudo():
        host.check_output("systemctl stop semantik-vecpipe.socket semantik-vecpipe")
    try:
        done = ansible_playbook(str(ROOT / "backup.yml"), "-e", f"backup_root={root}")
        refused = ansible_playbook(str(ROOT / "restore.yml"), "-e", f"backup_root={root}")
    finally:
        with host.sudo():
            host.check_output("systemctl start semantik-vecpipe")
            host.check_output(
                "for i in $(seq 90); do python3 -c 'import urllib.request as u; "
                'u.urlopen("http://127.0.0.1:8000/health")\' 2>/dev/null && exit 0; sleep 1; done; exit 1'
            )
    assert done.returncode != 0
    (partial,) = list(root.iterdir())
    assert partial.name.endswith(".partial") and not (partial / "manifest.json").exists()
    assert (partial / "postgres/semantik.dump").is_file()  # the step before the failure
    assert refused.returncode != 0 and "no sealed backup under" in refused.stdout + refused.stderr


def test_the_backup_timer_is_scheduled_and_its_run_is_restorable(host, ingested):
    timer = host.service("semantik-backup.timer")
    assert timer.is_enabled and timer.is_running
    with host.sudo():
        assert "semantik-backup.timer" in host.check_output("systemctl list-timers --all --no-pager")
        host.check_output("systemctl start semantik-backup.service")  # a oneshot: returns when done
        verified = host.run("/usr/local/sbin/semantik-backup verify /var/backups/semantik")
        assert verified.rc == 0, verified.stderr
        assert host.check_output(NOT_PRIVATE.format("/var/backups/semantik")) == ""
        manifest = json.loads(host.check_output("cat /var/backups/semantik/*/manifest.json"))
        secrets = host.check_output("grep -h -E '^(INTERNAL_API_KEY|JWT_SECRET_KEY)=' /etc/semantik/*.env")
        config = host.check_output("cat /var/backups/semantik/*/config/*/etc/semantik/*.env")
    assert manifest["vectors"] >= 8 and manifest["database"]["rows"]["documents"] >= 8
    for line in secrets.splitlines():
        assert line.split("=", 1)[1].strip("'") not in config
