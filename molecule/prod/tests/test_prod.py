"""The prod inventory on nine lab hosts: each service where its groups put it and nowhere else, a
document ingested through the load balancer and processed on a worker host, both webui upstreams
serving, `make status`, the firewall matrix between every pair of hosts, the lab's memory.

prod-probe, in no Semantik group, looks at the stack from the network.
"""

import json
import re
import secrets
import ssl
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import pytest
from verify_support import (
    INVENTORY,
    ROOT,
    address,
    admin_credentials,
    ansible_playbook,
    demo,
    lab_host,
    lab_memory,
    reach,
)

PROBE = "prod-probe"
APP_SERVICES = ["webui", "vecpipe", "worker", "beat", "flower"]
# The other tiers' units and the group that runs each.
TIER_UNITS = {"postgresql": "postgres", "redis-server": "redis", "nginx": "lb"}
PORTS = [22, 80, 443, 5432, 6379, 8000, 8080, 5555]


@cache
def variables(host: str) -> dict:
    """The host's inventory variables as written (not templated), `groups` among them; read once
    (each read runs ansible-inventory)."""
    return INVENTORY.get_variables(host)


GROUPS = variables(PROBE)["groups"]
STACK = sorted(set(GROUPS["all"]) - {PROBE})
LB = GROUPS["lb"][0]
URL = f"https://{address(LB)}"


def groups_of(host: str) -> set[str]:
    return {group for group, hosts in GROUPS.items() if host in hosts}


def members(group: str) -> list[str]:
    return GROUPS.get(group, [])


def on_all(hosts: list[str], work):
    with ThreadPoolExecutor(len(hosts)) as pool:
        return dict(zip(hosts, pool.map(work, hosts), strict=True))


def test_each_unit_runs_exactly_where_its_groups_say():
    units = [f"semantik-{service}" for service in APP_SERVICES] + list(TIER_UNITS)

    def states(host: str) -> dict[str, tuple[str, str]]:
        shown = lab_host(host).check_output(
            "systemctl show -p Id,LoadState,ActiveState " + " ".join(f"{unit}.service" for unit in units)
        )
        found = {}
        for block in shown.strip().split("\n\n"):
            props = dict(line.split("=", 1) for line in block.splitlines())
            found[props["Id"].removesuffix(".service")] = (props["LoadState"], props["ActiveState"])
        return found

    seen = on_all(STACK, states)
    wanted = {
        host: {
            **{
                f"semantik-{s}": ("loaded", "active") if s in groups_of(host) else ("not-found", "inactive")
                for s in APP_SERVICES
            },
            **{
                u: ("loaded", "active") if g in groups_of(host) else ("not-found", "inactive")
                for u, g in TIER_UNITS.items()
            },
        }
        for host in STACK
    }
    width = max(map(len, units)) + 2
    print("\n" + "unit".ljust(width) + "".join(f"{h:>13}" for h in STACK))
    for unit in units:
        row = "".join(f"{seen[h][unit][1] if seen[h][unit][0] == 'loaded' else '-':>13}" for h in STACK)
        print(unit.ljust(width) + row)
    assert seen == wanted


def test_status_lists_every_host_and_service_and_passes():
    done = ansible_playbook(
        str(ROOT / "playbooks/status.yml"), env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    # The JSON object starts on a line of its own (profile_tasks, enabled in the scenario, prints too).
    start = re.search(r"^\{$", done.stdout, re.MULTILINE).start()
    result, _ = json.JSONDecoder().raw_decode(done.stdout[start:])
    shown = {
        host: outcome["msg"]
        for play in result["plays"]
        for task in play["tasks"]
        if task["task"]["name"] == "Show them"
        for host, outcome in task["hosts"].items()
    }
    assert set(shown) == set(STACK)
    for host, lines in shown.items():
        print(f"{host}: {lines}")
        groups = groups_of(host)
        expected = [f"semantik-{s}.service" for s in APP_SERVICES if s in groups]
        expected += [
            {"postgres": "postgresql@", "redis": "redis-server.service", "lb": "nginx.service"}[g]
            for g in ("postgres", "redis", "lb")
            if g in groups
        ]
        for unit in expected:
            assert any(line.startswith(unit) and " active" in line for line in lines), (host, unit, lines)
        for service in ("vecpipe", "webui"):
            assert any(line.startswith(f"{service}: HTTP 200") for line in lines) == (service in groups)
        assert "GPU: no NVIDIA device" in lines, (host, lines)  # the lab's hosts have none
        if "worker" in groups:
            assert any(re.fullmatch(r"queue: \d+ tasks waiting", line) for line in lines), (host, lines)
    assert all(stats["failures"] == 0 and stats["unreachable"] == 0 for stats in result["stats"].values())
    assert set(result["stats"]) == set(STACK)


@pytest.fixture(scope="module")
def ingested():
    """The sample documents on the worker and webui hosts (ansible/demo.yml, which also ingests and
    searches them through the lb), then a collection of our own over them, through the lb: its
    ingest operation's id."""
    done = ansible_playbook(str(ROOT / "ansible/demo.yml"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    client = demo.Client(URL, None)
    demo.login(client, *admin_credentials())
    wiring = variables(LB)
    collection = client.call(
        "POST",
        "/api/v2/collections",
        {
            "name": f"prod-lab-{secrets.token_hex(4)}",
            "embedding_model": wiring["semantik_default_embedding_model"],
            "quantization": wiring["semantik_default_quantization"],
            "chunk_size": 400,
            "chunk_overlap": 50,
        },
    )
    if collection.get("initial_operation_id"):
        client.wait_operation(collection["initial_operation_id"], 300)
    docs = wiring["site_document_roots"][0] + "/sample"
    operation = client.call(
        "POST",
        f"/api/v2/collections/{collection['id']}/sources",
        {"source_type": "directory", "source_config": {"path": docs, "recursive": True}},
    )
    done = client.wait_operation(operation["id"], 300)
    assert done["status"] == "completed", done
    return {"client": client, "collection": collection["id"], "operation": operation["id"]}


def test_a_document_ingested_through_the_lb_is_processed_on_a_worker_host(ingested):
    operation = ingested["operation"]
    workers = members("worker")

    def mentions(host: str) -> list[str]:
        with lab_host(host).sudo():
            return (
                lab_host(host)
                .run(f"journalctl --no-pager -o cat -u semantik-worker | grep -F {operation}")
                .stdout.splitlines()
            )

    seen = on_all(workers, mentions)
    for host, lines in seen.items():
        print(f"{host}'s worker journal on operation {operation}: {lines or 'nothing'}")
    ran_on = [host for host, lines in seen.items() if lines]
    assert len(ran_on) == 1, seen
    assert ran_on[0] not in members("lb") + members("webui")


def test_the_ingested_documents_are_found_through_the_lb(ingested):
    client = ingested["client"]
    answer = client.call(
        "POST",
        "/api/v2/search/single",
        {"collection_id": ingested["collection"], "query": "Why does ice slowly flow downhill?", "k": 3},
    )
    names = [result["file_name"] for result in answer["results"]]
    print(f"search through {URL}: {names}")
    assert names and names[0] == "glaciers.md"


def test_both_webui_upstreams_serve_requests_sent_through_the_lb():
    """Requests with a mark of their own through the lb, then counted in each webui host's access
    log (gunicorn's, in its journal)."""
    mark = f"upstream-{secrets.token_hex(6)}"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sent = 40
    for n in range(sent):
        with urllib.request.urlopen(f"{URL}/api/health/healthz?{mark}={n}", context=context, timeout=20) as r:
            assert r.status == 200
    time.sleep(2)

    def served(host: str) -> int:
        with lab_host(host).sudo():
            out = lab_host(host).run(f"journalctl --no-pager -o cat -u semantik-webui | grep -cF {mark}")
        return int(out.stdout.strip() or 0)

    counts = on_all(members("webui"), served)
    print(f"{sent} requests through {LB}, served by: {counts}")
    assert sum(counts.values()) == sent
    assert all(count > 0 for count in counts.values()), counts


def intended(source: str, target: str, port: int) -> bool:
    """Whether the wiring admits `source` to `target`'s `port`: the host itself, a public port of
    the target (site_public_ports on the lb, SSH elsewhere), or a client group of a tier the target
    runs on that port (site_clients)."""
    if source == target:
        return True
    wiring = variables(target)
    public = wiring["site_public_ports"] if target in members("lb") else [22]
    if port in public:
        return True
    return any(
        rule["port"] == port
        and target in members(tier)
        and any(source in members(group) for group in rule["from"])
        for tier, rule in wiring["site_clients"].items()
    )


def listening(host: str) -> set[int]:
    """The ports of PORTS on which something listens on an address other hosts can reach."""
    out = lab_host(host).check_output("ss -Hltn")
    found = set()
    for line in out.splitlines():
        local = line.split()[3]
        where, _, port = local.rpartition(":")
        if int(port) in PORTS and not re.match(r"^(127\.|\[::1\]|::1)", where):
            found.add(int(port))
    return found


def test_the_firewall_matrix_equals_the_wiring():
    """From every host (and the probe) to every port of every stack host at once; only the ports
    where something listens count: there, a port the wiring does not admit must be filtered (the
    SYN dropped), not refused."""
    listens = on_all(STACK, listening)
    addresses = {host: variables(host)["ansible_host"] for host in STACK}
    sources = [*STACK, PROBE]
    seen = on_all(sources, lambda source: reach(source, {addresses[t]: PORTS for t in STACK}))
    observed, wanted = {}, {}
    for source in sources:
        for target in STACK:
            states = seen[source][addresses[target]]
            for port in sorted(listens[target]):
                observed[source, target, port] = states[port]
                wanted[source, target, port] = "open" if intended(source, target, port) else "filtered"
    width = max(map(len, sources)) + 2
    print()
    for target in STACK:
        ports = sorted(listens[target])
        print(f"to {target} ({addresses[target]}), listening on {ports}:")
        print("  from".ljust(width + 2) + "".join(f"{p:>10}" for p in ports))
        for source in sources:
            cells = ""
            for port in ports:
                state, want = observed[source, target, port], wanted[source, target, port]
                cells += f"{state + ('' if state == want else '!'):>10}"
            print(f"  {source}".ljust(width + 2) + cells)
    # The tiers that other hosts use do listen beyond loopback (else the matrix proves nothing).
    for tier, rule in variables(LB)["site_clients"].items():
        for host in members(tier):
            assert rule["port"] in listens[host], (tier, host, listens[host])
    assert 443 in listens[LB]
    wrong = {key: (observed[key], wanted[key]) for key in observed if observed[key] != wanted[key]}
    assert not wrong, wrong


def test_memory_the_lab_used():
    """Printed for the record; the assertion only checks that it was measured."""
    usage = lab_memory(sorted(GROUPS["all"]))
    mib = 1024 * 1024
    for host, figures in usage.items():
        print(f"{host}: " + ", ".join(f"{key} {value / mib:.0f} MiB" for key, value in figures.items()))
    totals = {key: sum(f.get(key, 0) for f in usage.values()) for key in ("peak", "pss", "hwm")}
    print(
        "lab memory: "
        + (f"sum of memory.peak {totals['peak'] / mib:.0f} MiB, " if totals["peak"] else "")
        + f"now (PSS) {totals['pss'] / mib:.0f} MiB, "
        f"sum of the processes' own peaks (VmHWM, an upper bound) {totals['hwm'] / mib:.0f} MiB"
    )
    assert totals["pss"] > 0
