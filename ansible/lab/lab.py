#!/usr/bin/env python3
"""Lab hosts: Debian 12 machines booted by systemd-nspawn on a private bridge.

ansible/lab/up.yml and down.yml are the interface; they call this helper for what Ansible does
badly: parsing apt sources, hashing the image inputs, and host lifecycles under one lock (so
concurrent callers never race on addresses, the bridge or /etc/hosts) with process supervision.

    lab.py plan --recipe FILE   JSON: image path and key, mirror, files to copy, SSH key path
    lab.py up --image DIR NAME...   ensure these hosts run; keeps live ones, recreates dead ones
    lab.py down [NAME...]       remove these hosts, or all; the network goes with the last one
    lab.py list                 JSON: the lab's hosts and their addresses
    lab.py poweroff NAME...     pull the plug: the link goes dead, every process is killed; the disk stays
    lab.py poweron NAME...      boot a powered-off host again from its disk as it was left

Stdlib only, so any Python 3.11 on the controller runs it. Needs root.
"""

from __future__ import annotations

import argparse
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

SUITE = "bookworm"
INCLUDE = "systemd,systemd-sysv,dbus,python3,iproute2,sudo,openssh-server,ca-certificates"
CACHE = Path("/var/cache/semantik-lab")
STATE = Path("/var/lib/semantik-lab")
HOSTS = STATE / "hosts"
KEY = STATE / "id_ed25519"
INVENTORY = STATE / "inventory.yml"
# Private subnet, clear of the uplink (192.0.2.0/24); the bridge is .1, hosts from .10.
NET = "10.213.47"
BRIDGE = "semlab0"
NFT_TABLE = "semantik_lab"
ADMIN = "admin"
BOOT_TIMEOUT = 90
SSH_OPTS = [
    "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=2",
]  # fmt: skip
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
APT_SOURCES = ["/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"]
# The controller's package access, copied into the image at the same paths.
ACCESS_GLOBS = [*APT_SOURCES, "/usr/local/share/ca-certificates/**/*.crt", "/etc/pip.conf", "/etc/xdg/pip/*"]


class LabError(Exception):
    pass


def run(*cmd: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, input=stdin)
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


# --- plan: what the image is built from ---------------------------------------------------


def access_files() -> list[str]:
    found = {p for pattern in ACCESS_GLOBS for p in glob.glob(pattern, recursive=True)}
    return sorted(p for p in found if os.path.isfile(p))


def debian_mirror() -> str:
    """The first URI in the controller's apt sources that serves the suite."""
    for path in sorted(p for pattern in APT_SOURCES for p in glob.glob(pattern)):
        text = Path(path).read_text()
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^([\w-]+):\s*(.*)$", stanza, re.M))
                if SUITE in fields.get("Suites", "").split() and "deb" in fields.get("Types", ""):
                    return fields["URIs"].split()[0]
        for line in text.splitlines():
            words = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                return words[1]
    raise LabError(f"no apt source on this machine serves Debian {SUITE}")


def plan(recipe: Path) -> dict[str, object]:
    files = access_files()
    mirror = debian_mirror()
    # The build recipe and the copied files are inputs too: a change to either rebuilds.
    digest = hashlib.sha256(f"{SUITE}\n{INCLUDE}\n{mirror}\n".encode() + recipe.read_bytes())
    for path in files:
        digest.update(path.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return {
        "image": str(CACHE / f"{SUITE}-{digest.hexdigest()[:16]}"),
        "suite": SUITE,
        "include": INCLUDE,
        "mirror": mirror,
        "access_files": files,
        "key": str(KEY),
        "state_dir": str(STATE),
    }


# --- host state ------------------------------------------------------------------------------


def host_dir(name: str) -> Path:
    return HOSTS / name


def known_hosts() -> list[str]:
    return sorted(p.name for p in HOSTS.iterdir()) if HOSTS.is_dir() else []


def address(name: str) -> str:
    return (host_dir(name) / "address").read_text().strip()


def addresses() -> dict[str, str]:
    return {n: address(n) for n in known_hosts() if (host_dir(n) / "address").exists()}


def veth(addr: str) -> str:
    return f"semlab-{addr.rsplit('.', 1)[1]}"


def nspawn_pids(name: str) -> list[int]:
    """The systemd-nspawn processes that boot this host's root."""
    root = str(host_dir(name) / "root")
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().decode().split("\0")
        except (OSError, ValueError):
            continue
        if argv[0].endswith("systemd-nspawn") and f"--machine={name}" in argv and root in argv:
            pids.append(int(entry.name))
    return pids


def mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as mountinfo:
        return any(line.split()[4] == str(path) for line in mountinfo)


def netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def link_exists(link: str) -> bool:
    return Path("/sys/class/net", link).exists()


@contextmanager
def locked() -> Iterator[None]:
    HOSTS.mkdir(parents=True, exist_ok=True)
    with open(STATE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# --- network ---------------------------------------------------------------------------------


def ensure_network() -> None:
    if not link_exists(BRIDGE):
        run("ip", "link", "add", BRIDGE, "type", "bridge")
        run("ip", "addr", "add", f"{NET}.1/24", "dev", BRIDGE)
        run("ip", "link", "set", BRIDGE, "up")
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
    if run("nft", "list", "table", "ip", NFT_TABLE, check=False).returncode != 0:
        # Hosts reach the package registries through the controller's uplink.
        rules = f"""table ip {NFT_TABLE} {{
            chain postrouting {{
                type nat hook postrouting priority srcnat; policy accept;
                ip saddr {NET}.0/24 oifname != "{BRIDGE}" masquerade
            }}
        }}"""
        run("nft", "-f", "-", stdin=rules)


def remove_network() -> None:
    if link_exists(BRIDGE):
        run("ip", "link", "del", BRIDGE)
    if run("nft", "list", "table", "ip", NFT_TABLE, check=False).returncode == 0:
        run("nft", "delete", "table", "ip", NFT_TABLE)


def plug(name: str, addr: str) -> None:
    link = veth(addr)
    # A MAC fixed by the address keeps the controller's ARP entry right when a host is recreated;
    # a new one would leave it stale, and the host unreachable, for half a minute.
    mac = f"02:5e:00:00:00:{int(addr.rsplit('.', 1)[1]):02x}"
    run("ip", "netns", "add", name)
    run("ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "address", mac, "netns", name)
    run("ip", "link", "set", link, "master", BRIDGE, "up")
    run("ip", "-n", name, "addr", "add", f"{addr}/24", "dev", "eth0")
    run("ip", "-n", name, "link", "set", "eth0", "up")
    run("ip", "-n", name, "link", "set", "lo", "up")
    run("ip", "-n", name, "route", "add", "default", "via", f"{NET}.1")


# --- hosts -----------------------------------------------------------------------------------


def free_address() -> str:
    taken = set(addresses().values())
    for octet in range(10, 255):
        if f"{NET}.{octet}" not in taken:
            return f"{NET}.{octet}"
    raise LabError("no free address left in the lab subnet")


def resolv_conf() -> str:
    """The controller's resolver, which hosts reach through the NAT; loopback ones they can't."""
    for path in ("/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"):
        text = Path(path).read_text() if Path(path).exists() else ""
        servers = re.findall(r"^nameserver\s+(\S+)", text, re.M)
        if servers and not any(s.startswith("127.") or s == "::1" for s in servers):
            return text
    raise LabError("the controller's nameservers are all on loopback, which lab hosts cannot reach")


def write_etc_hosts() -> None:
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    lines += [f"{addr} {name}" for name, addr in addresses().items()]
    for name in known_hosts():
        root = host_dir(name) / "root"
        if mounted(root):
            # Rewritten in place: a running host sees the change at once.
            (root / "etc/hosts").write_text("\n".join(lines) + "\n")


def prepare_root(name: str, image: Path) -> None:
    """Give the host its own copy-on-write root with its name, resolver and keys."""
    top = host_dir(name)
    for sub in ("upper", "work", "root"):
        (top / sub).mkdir()
    run("mount", "-t", "overlay", "overlay", "-o",
        f"lowerdir={image},upperdir={top / 'upper'},workdir={top / 'work'}", str(top / "root"))  # fmt: skip
    root = top / "root"
    (root / "etc/hostname").write_text(f"{name}\n")
    (root / "etc/machine-id").write_text(uuid.uuid4().hex + "\n")
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    (root / "etc/resolv.conf").write_text(resolv_conf())
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{name}",
        "-f", str(root / "etc/ssh/ssh_host_ed25519_key"))  # fmt: skip
    pubkey = Path(f"{KEY}.pub").read_text()
    uid, gid = admin_ids(root)
    for home, owner in ((root / "root", (0, 0)), (root / "home" / ADMIN, (uid, gid))):
        ssh_dir = home / ".ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(pubkey)
        for path in (ssh_dir, ssh_dir / "authorized_keys"):
            os.chown(path, *owner)


def admin_ids(root: Path) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == ADMIN:
            return int(fields[2]), int(fields[3])
    raise LabError(f"the image has no {ADMIN} user; rebuild it with ansible/lab/up.yml")


def cgroups(name: str) -> list[Path]:
    """The host's own cgroup in each hierarchy systemd uses (named v1 and v2, or v2 alone).

    nspawn with --keep-unit puts the host under its caller's cgroup; without systemd as the
    controller's PID 1 that is the root for every host, so they would share one and break.
    """
    base = Path("/sys/fs/cgroup")
    roots = [r for r in (base / "systemd", base / "unified", base) if (r / "cgroup.procs").exists()]
    return [r / "semantik-lab" / name for r in roots]


def process_state(pid: str) -> str:
    """The state letter in /proc/<pid>/stat (Z: a zombie waiting for its parent, D: in the kernel)."""
    with suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return "gone"


def remove_cgroups(name: str) -> None:
    for top in cgroups(name):
        if not top.exists():
            continue
        # A killed process stays in its cgroup until its parent reaps it, and an orphan's parent is
        # the machine's init, which reaps in its own time: over 30 s was seen, twice, for a host that
        # had been powered off and on (molecule/prod's host loss).
        deadline = time.monotonic() + 180
        for path, _, _ in os.walk(top, topdown=False):
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:  # busy until the last of its processes is gone and reaped
                    if time.monotonic() > deadline:
                        left = [
                            f"{pid} ({process_state(pid)})"
                            for pid in Path(path, "cgroup.procs").read_text().split()
                        ]
                        raise LabError(f"cannot remove cgroup {path} (processes {left})") from None
                    # The cgroup is the host's whole truth: a process outside its network namespace
                    # (a unit with PrivateNetwork=) or orphaned by a killed nspawn is still here.
                    for pid in Path(path, "cgroup.procs").read_text().split():
                        with suppress(ProcessLookupError):
                            os.kill(int(pid), signal.SIGKILL)
                    time.sleep(0.5)
        with suppress(OSError):
            top.parent.rmdir()  # the last host takes the lab's cgroup with it


def boot(name: str) -> None:
    root = host_dir(name) / "root"
    groups = cgroups(name)
    for group in groups:
        group.mkdir(parents=True, exist_ok=True)

    def enter_cgroups() -> None:
        for group in groups:
            (group / "cgroup.procs").write_text(f"{os.getpid()}\n")

    log = open(host_dir(name) / "nspawn.log", "ab")  # noqa: SIM115 - handed to the child
    # CAP_NET_ADMIN lets the host load nftables rules (common's firewall, enforced). It acts on the
    # host's own network namespace: the host sees no other one to enter (its PID namespace holds
    # its processes only, /run/netns is not in its mounts), and the image is the same, so no rebuild.
    subprocess.Popen(
        ["systemd-nspawn", "-D", str(root), "--boot", f"--machine={name}", "--register=no",
         "--keep-unit", f"--network-namespace-path=/run/netns/{name}", "--resolv-conf=off",
         "--console=read-only", "--capability=CAP_NET_ADMIN"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=enter_cgroups,
    )  # fmt: skip
    log.close()


def wait_running(name: str) -> None:
    """Wait until systemd in the host reports running, reached over SSH like a real server."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    cmd = ["ssh", *SSH_OPTS, "-i", str(KEY), f"root@{address(name)}", "systemctl is-system-running --wait"]
    while time.monotonic() < deadline:
        if not nspawn_pids(name):
            tail = (host_dir(name) / "nspawn.log").read_text(errors="replace").splitlines()[-15:]
            raise LabError(f"systemd-nspawn could not boot {name}:\n" + "\n".join(tail))
        done = subprocess.run(cmd, capture_output=True, text=True)
        state = done.stdout.strip()
        if state == "running":
            return
        if done.returncode != 255:  # 255: SSH itself failed, sshd is not up yet
            failed = run("ssh", *SSH_OPTS, "-i", str(KEY), f"root@{address(name)}",
                         "systemctl --failed --no-legend", check=False).stdout  # fmt: skip
            raise LabError(f"{name} booted {state or 'with an error'}; failed units:\n{failed}")
        time.sleep(0.5)
    raise LabError(f"{name} did not boot within {BOOT_TIMEOUT} s; see {host_dir(name) / 'nspawn.log'}")


def destroy(name: str) -> None:
    """Remove every trace of a host, whatever state it is in. Killed, not halted: its disk goes next,
    and a clean halt only waited for its services to stop (30 s, then a kill, for a prod host)."""
    for pid in nspawn_pids(name):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if netns_exists(name):
        # A host whose nspawn was killed keeps running in its namespace: end it.
        deadline = time.monotonic() + 10
        while pids := run("ip", "netns", "pids", name).stdout.split():
            if time.monotonic() > deadline:
                raise LabError(f"processes of {name} survived SIGKILL: {pids}")
            for pid in pids:
                with suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.1)
        run("ip", "netns", "del", name)
    # Before the unmount: a process outside the namespace (PrivateNetwork=) may still hold the root.
    remove_cgroups(name)
    top = host_dir(name)
    if (top / "address").exists():
        run("ip", "link", "del", veth(address(name)), check=False)  # usually gone with the netns
    if mounted(top / "root"):
        run("umount", str(top / "root"))
    shutil.rmtree(top, ignore_errors=True)


def poweroff(name: str) -> None:
    """As a power cut: the network goes first (no FIN or RST leaves the host: its peers' connections
    hang until their timeouts, as they would), then every process dies at once. The root file system,
    its address and its namespace stay for poweron."""
    run("ip", "-n", name, "link", "set", "eth0", "down")
    for pid in [*nspawn_pids(name), *map(int, run("ip", "netns", "pids", name).stdout.split())]:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while nspawn_pids(name) or run("ip", "netns", "pids", name).stdout.split():
        if time.monotonic() > deadline:
            raise LabError(f"processes of {name} survived SIGKILL")
        time.sleep(0.1)


def poweron(name: str) -> None:
    run("ip", "-n", name, "link", "set", "eth0", "up")
    boot(name)
    wait_running(name)


def leftovers(name: str) -> bool:
    return any(
        [host_dir(name).exists(), netns_exists(name), nspawn_pids(name), *map(Path.exists, cgroups(name))]
    )


# --- commands --------------------------------------------------------------------------------


def hosts_json() -> list[dict[str, str]]:
    return [{"name": name, "address": addr} for name, addr in addresses().items()]


def write_inventory() -> None:
    lines = ["# Written by ansible/lab/lab.py: the lab's hosts. Do not edit.", "all:", "  children:",
             "    lab:", "      hosts:" + ("" if known_hosts() else " {}")]  # fmt: skip
    for host in hosts_json():
        lines += [f"        {host['name']}:", f"          ansible_host: {host['address']}"]
    lines += [
        "      vars:",
        f"        ansible_user: {ADMIN}",
        f"        ansible_ssh_private_key_file: {KEY}",
        "        ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        "        ansible_host_key_checking: false",
        "        ansible_python_interpreter: /usr/bin/python3",
    ]
    INVENTORY.write_text("\n".join(lines) + "\n")


def up(names: list[str], image: Path) -> dict[str, object]:
    if not (image / "etc/os-release").exists():
        raise LabError(f"no image at {image}; build it with ansible/lab/up.yml")
    if not KEY.exists():
        raise LabError(f"no SSH key at {KEY}; ansible/lab/up.yml creates it")
    result: dict[str, list[str]] = {"created": [], "recreated": [], "kept": []}
    new: list[str] = []
    with locked():
        try:
            ensure_network()
            for name in names:
                if nspawn_pids(name):
                    result["kept"].append(name)
                    continue
                if leftovers(name):
                    destroy(name)  # it died: start it afresh
                    result["recreated"].append(name)
                else:
                    result["created"].append(name)
                host_dir(name).mkdir(parents=True)
                new.append(name)
                (host_dir(name) / "address").write_text(free_address() + "\n")
            for name in new:
                prepare_root(name, image)
            write_etc_hosts()
            for name in new:
                plug(name, address(name))
                boot(name)
            for name in new:
                wait_running(name)
        except BaseException as err:
            try:  # a failed up leaves nothing half-made behind
                for name in new:
                    destroy(name)
                write_etc_hosts()
                if not known_hosts():
                    remove_network()
            except LabError as cleanup:
                raise LabError(f"{err}\nCleaning up failed too: {cleanup}") from err
            raise
        finally:
            write_inventory()
    return {**result, "hosts": [h for h in hosts_json() if h["name"] in names], "key": str(KEY)}


def down(names: list[str]) -> dict[str, object]:
    with locked():
        removed = [name for name in names or known_hosts() if leftovers(name)]
        # At once: a host's root file system may take long to remove.
        with ThreadPoolExecutor(max_workers=max(1, len(removed))) as pool:
            list(pool.map(destroy, removed))
        write_etc_hosts()
        if not known_hosts():
            remove_network()
        write_inventory()
    return {"removed": removed}


def power(command: str, names: list[str]) -> dict[str, object]:
    with locked():
        unknown = [name for name in names if not (host_dir(name) / "root").is_dir() or not netns_exists(name)]
        if unknown:
            raise LabError(f"no such lab host: {', '.join(unknown)}")
        for name in names:
            running = bool(nspawn_pids(name))
            if command == "poweroff" and running:
                poweroff(name)
            elif command == "poweron" and not running:
                poweron(name)
    return {command: names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("plan").add_argument("--recipe", type=Path, required=True)
    up_parser = sub.add_parser("up")
    up_parser.add_argument("--image", type=Path, required=True)
    up_parser.add_argument("names", nargs="+")
    sub.add_parser("down").add_argument("names", nargs="*")
    sub.add_parser("list")
    sub.add_parser("poweroff").add_argument("names", nargs="+")
    sub.add_parser("poweron").add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    try:
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network namespaces, mounts, systemd-nspawn); run it as root")
        for name in getattr(args, "names", []):
            if not NAME_RE.match(name):
                raise LabError(f"bad host name {name!r}: use a-z, 0-9 and '-', at most 31, a letter first")
        if args.command == "plan":
            out: object = plan(args.recipe)
        elif args.command == "up":
            out = up(list(dict.fromkeys(args.names)), args.image)
        elif args.command == "down":
            out = down(args.names)
        elif args.command in ("poweroff", "poweron"):
            out = power(args.command, args.names)
        else:
            out = {"hosts": hosts_json(), "key": str(KEY), "inventory": str(INVENTORY)}
    except LabError as err:
        print(f"lab: {err}", file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
