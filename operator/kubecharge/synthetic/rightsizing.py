"""Workloads whose usage follows a known shape, for request recommendations to be judged against (`platform-portal`).

Each is a Deployment of one app container per pod, all its replicas the same shape (each with noise of its own):

- `steady`: flat CPU and memory far below generous requests (over-provisioned: a large saving);
- `diurnal`: a daily cycle, so the 95th percentile sits near the day's top, not its mean;
- `spiky`: a low baseline with rare 10-minute bursts (under 5 % of the windows: the percentile ignores them, the
  memory peak does not);
- `leaky`: memory that grows steadily until the container is restarted (a new cgroup), twice a day;
- `starved`: usage above both requests (under-provisioned: the recommendation costs money, the saving is negative);
- `autoscaled`: the target of a HorizontalPodAutoscaler (`kube_horizontalpodautoscaler_info`) whose replica count
  goes from 2 to 3 to 4 and back: listed, but kept out of a team's saving;
- `fresh`: deployed 12 hours before the end: not enough data for a recommendation.

Drawn from a generator of their own, so the rest of the cluster stays as it was.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from random import Random

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
MIB = 2**20
NAMESPACE = "platform-portal"


@dataclass(frozen=True)
class Autoscaler:
    """A HorizontalPodAutoscaler and the workload it scales, existing over [created_slot, deleted_slot)."""

    namespace: str
    name: str
    target_kind: str
    target_name: str
    created_slot: int
    deleted_slot: int


@dataclass(frozen=True)
class Replica:
    """One pod of a designed Deployment: when it runs, and its container's usage per slot."""

    start_slot: int
    end_slot: int
    cpu_cores: FloatArray
    memory_bytes: FloatArray
    restart_slots: tuple[int, ...] = ()  # where its container is restarted (a new incarnation)


@dataclass(frozen=True)
class Design:
    deployment: str
    cpu_request_cores: float
    memory_request_bytes: float
    replicas: tuple[Replica, ...]


Shape = Callable[[Random, int], tuple[FloatArray, FloatArray, tuple[int, ...]]]


def designs(slots: int, step_seconds: int, rng: Random) -> tuple[list[Design], list[Autoscaler]]:
    """The designed Deployments of `NAMESPACE` over `slots` slots of `step_seconds`, and the one autoscaler."""
    per_hour = 3600 // step_seconds
    seconds = np.arange(slots, dtype=np.float64) * step_seconds
    start = 2  # two slots Pending, as the cluster's other pods

    def noise(seed: Random, width: float) -> FloatArray:
        drawn: FloatArray = np.random.default_rng(seed.getrandbits(32)).normal(1.0, width, slots)
        return np.clip(drawn, 1.0 - 3 * width, 1.0 + 3 * width)

    def daily(seed: Random, mean: float, swing: float) -> FloatArray:
        phase = seed.uniform(0, 2 * math.pi)
        return mean * (1 + swing * np.sin(2 * math.pi * seconds / 86400 + phase))

    def steady(seed: Random, _: int) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
        return 0.2 * noise(seed, 0.03), 200 * MIB * noise(seed, 0.01), ()

    def diurnal(seed: Random, _: int) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
        return daily(seed, 0.3, 0.6) * noise(seed, 0.05), daily(seed, 300 * MIB, 0.1) * noise(seed, 0.01), ()

    def spiky(seed: Random, first: int) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
        cpu, memory = 0.05 * noise(seed, 0.05), 150 * MIB * noise(seed, 0.01)
        burst = 600 // step_seconds or 1
        for hour in range(first // per_hour + 2, slots // per_hour - 1, 7):  # one burst every 7 hours
            at = hour * per_hour + seed.randrange(per_hour - burst)
            cpu[at : at + burst], memory[at : at + burst] = 1.5, 400 * MIB
        return cpu, memory, ()

    def leaky(seed: Random, first: int) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
        every = 12 * per_hour + seed.randrange(per_hour)  # restarted about twice a day
        restarts = tuple(range(first + every, slots, every))
        since = np.arange(slots) - first
        for restart in restarts:
            since[restart:] = np.arange(slots - restart)
        memory = (120 + 580 * np.clip(since, 0, None) / every) * MIB * noise(seed, 0.005)
        return 0.1 * noise(seed, 0.05), memory, restarts

    def starved(seed: Random, _: int) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
        return daily(seed, 0.4, 0.2) * noise(seed, 0.05), 200 * MIB * noise(seed, 0.02), ()

    def autoscaled(seed: Random, _: int) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
        return daily(seed, 0.3, 0.3) * noise(seed, 0.05), 250 * MIB * noise(seed, 0.01), ()

    quarter, half = slots // 4, slots // 2
    young = max(start, slots - 12 * per_hour + per_hour // 3)
    plan: list[tuple[str, float, float, Shape, list[tuple[int, int]]]] = [
        ("steady", 1.0, 1024.0, steady, [(start, slots)] * 2),
        ("diurnal", 0.5, 512.0, diurnal, [(start, slots)] * 2),
        ("spiky", 0.5, 256.0, spiky, [(start, slots)]),
        ("leaky", 0.25, 512.0, leaky, [(start, slots)]),
        ("starved", 0.1, 128.0, starved, [(start, slots)]),
        # the autoscaler adds a replica a quarter of the way in, another at half-time, then removes one
        ("autoscaled", 0.5, 512.0, autoscaled,
         [(start, slots), (start, slots), (quarter + 7, slots), (half + 11, half + slots // 8)]),
        ("fresh", 0.5, 256.0, steady, [(young, slots)]),
    ]  # fmt: skip
    found = []
    for deployment, cpu_request, memory_mib, shape, lives in plan:
        replicas = []
        for first, last in lives:
            cpu, memory, restarts = shape(rng, first)
            replicas.append(Replica(first, last, cpu, memory, restarts))
        found.append(Design(deployment, cpu_request, memory_mib * MIB, tuple(replicas)))
    autoscaler = Autoscaler(NAMESPACE, "autoscaled", "Deployment", "autoscaled", 0, slots)
    return found, [autoscaler]
