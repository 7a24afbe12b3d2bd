"""Run leases on both databases: one holder at a time, renewable by it, taken over only once expired."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from kubecharge.store.repository import Repository


def test_a_lease_has_one_holder_until_it_expires(database_url: str) -> None:
    repository = Repository(database_url)
    try:
        assert repository.take_lease("usagereport/u1", "pod-a", 1.5) is None
        assert repository.take_lease("usagereport/u1", "pod-b", 1.5) == "pod-a"
        assert repository.take_lease("usagereport/u1", "pod-a", 1.5) is None  # renewed by its holder
        assert repository.take_lease("usagereport/u2", "pod-b", 60) is None  # another report: its own lease
        time.sleep(1.7)
        assert repository.take_lease("usagereport/u1", "pod-b", 60) is None  # expired: taken over
        assert repository.take_lease("usagereport/u1", "pod-a", 60) == "pod-b"
        repository.release_lease("usagereport/u1", "pod-a")  # not the holder: nothing happens
        assert repository.take_lease("usagereport/u1", "pod-a", 60) == "pod-b"
        repository.release_lease("usagereport/u1", "pod-b")
        assert repository.take_lease("usagereport/u1", "pod-a", 60) is None
    finally:
        repository.close()


def test_replicas_asking_at_once_get_one_winner(database_url: str) -> None:
    repositories = [Repository(database_url) for _ in range(8)]
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: repositories[i].take_lease("usagereport/race", f"pod-{i}", 60),
                                    range(8)))  # fmt: skip
        winners = [i for i, holder in enumerate(answers) if holder is None]
        assert len(winners) == 1
        assert {holder for holder in answers if holder is not None} == {f"pod-{winners[0]}"}
    finally:
        for repository in repositories:
            repository.close()
