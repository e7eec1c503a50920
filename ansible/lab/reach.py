"""Which TCP ports of which hosts answer, tried all at once from the host it runs on (a lab host):

    python3 reach.py TIMEOUT HOST:PORT,PORT,... [HOST:PORT,...]...

prints one JSON object {host: {port: state}}: open (connected), refused (the host answered with a
reset: nothing listens there), filtered (no answer within TIMEOUT seconds: the firewall dropped the
SYN), or another error name. Stdlib only, and free of single quotes: it travels as python3 -c.
Used by tests/deploy/test_firewall_enforced.py and molecule/prod.
"""

import json
import socket
import sys
from concurrent.futures import ThreadPoolExecutor


def state(target):
    host, port = target
    try:
        socket.create_connection((host, port), timeout=float(sys.argv[1])).close()
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "filtered"
    except OSError as error:
        return type(error).__name__


targets = [
    (host, int(port))
    for arg in sys.argv[2:]
    for host, _, ports in [arg.rpartition(":")]
    for port in ports.split(",")
]
with ThreadPoolExecutor(len(targets)) as pool:
    states = list(pool.map(state, targets))
found = {}
for (host, port), seen in zip(targets, states, strict=True):
    found.setdefault(host, {})[str(port)] = seen
print(json.dumps(found))
