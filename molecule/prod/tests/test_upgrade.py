"""The upgrade: converge deployed the previous release (pyproject.toml's previous-release, extracted by
../prepare.yml); the release in the working tree rolls out with site.yml while users search through
the lb and an ingest runs. test_prod.py and test_tls.py then look at the upgraded stack.
"""

import threading
import time

from rollout import (
    APP_HOSTS,
    EPHEMERAL,
    NEW_SOURCE,
    STORY,
    counts,
    figures,
    ingest,
    release,
    running_release,
    site_yml,
    slowest_tasks,
    traffic,
    vecpipe_journal,
    windows,
    write_corpus,
)

# Documents of one chunk each, so a collection's exact chunk count is its document count. The
# ingest during the rollout starts as vecpipe's host restarts and should outlast the workers' turns
# (about 40 documents a second in the lab; the figures show the state it was in at each turn).
INGEST_DOCUMENTS = 6000


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

    seconds, done = site_yml(at_each_turn)
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
    slowest_tasks("upgrade", done.stdout)
    assert {host: running_release(host) for host in APP_HOSTS} == dict.fromkeys(
        APP_HOSTS, release(NEW_SOURCE)
    )
    assert [window["failed"] for window in shown.values()] == [0, 0, 0], (shown, vecpipe_journal())
    assert (finished["status"], documents, vectors) == ("completed", INGEST_DOCUMENTS, INGEST_DOCUMENTS)
