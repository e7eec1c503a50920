"""The rollback, last: `make rollback` returns every app host to the previous release's venv (kept
by the upgrade) under the same traffic.
"""

import time

from rollout import (
    APP_HOSTS,
    EPHEMERAL,
    ROOT,
    figures,
    playbook,
    release,
    running_release,
    slowest_tasks,
    traffic,
    vecpipe_journal,
    windows,
)


def test_a_rollback_under_traffic_fails_no_request(api):
    load = traffic(api).start()
    time.sleep(10)
    load.mark("start")
    began = time.monotonic()
    done = playbook(str(ROOT / "playbooks/rollback.yml"))
    seconds = time.monotonic() - began
    load.mark("end")
    time.sleep(10)
    records = load.stop()
    shown = windows(records, load.marks, "start", "end")
    figures("rollback", {"rollback_s": round(seconds, 1), **shown})
    slowest_tasks("rollback", done.stdout)
    previous = release(EPHEMERAL / "previous")
    assert {host: running_release(host) for host in APP_HOSTS} == dict.fromkeys(APP_HOSTS, previous)
    assert [window["failed"] for window in shown.values()] == [0, 0, 0], (shown, vecpipe_journal())
