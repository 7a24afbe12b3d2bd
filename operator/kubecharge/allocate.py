"""Allocate: idle node cost and the shared namespaces' cost, moved onto the teams' lines (full cost only).

Per cluster, in this order:
1. Idle — `show`: one line, team and namespace `__idle__`, holding it; `distribute`: every line gets a share in
   proportion to its direct compute cost (CPU + memory + GPU), no `__idle__` line (unless no line has any
   compute cost to carry it).
2. Shared — the lines of the shared namespaces hand their direct cost plus their idle share to the other lines
   (not to `__idle__`): `proportional` to each receiving line's direct cost, or `even`: the same amount per
   receiving team, split inside a team by its lines' direct cost. The shared lines keep their direct figures and
   show what they handed on as a negative `cost_shared_share`.
Every amount moved is taken from somewhere, so the lines' `cost_total_allocated` still add up to the cluster cost.
3. A line's idle and shared shares are split between its workloads in proportion to their direct compute cost
   (evenly where none has any), so a namespace's workload rows add up to its row.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from fnmatch import fnmatchcase

from kubecharge.domain.charges import IDLE, ChargeLine, Costs
from kubecharge.domain.reports import CostModel, IdleMode, ShareMode
from kubecharge.domain.usage import ResourceQuantities


def _shares(total: float, weights: Sequence[float]) -> list[float]:
    """`total` split in proportion to `weights` (evenly where they are all zero)."""
    whole = math.fsum(weights)
    if whole <= 0:
        return [total / len(weights)] * len(weights) if weights else []
    return [total * weight / whole for weight in weights]


def _idle_line(cluster: str, costs: Costs) -> ChargeLine:
    return ChargeLine(IDLE, IDLE, ResourceQuantities(), 0.0, 0.0, costs, cluster)


def allocate(lines: Sequence[ChargeLine], idle: Mapping[str, Costs], model: CostModel) -> list[ChargeLine]:
    result: list[ChargeLine] = []
    for cluster in sorted({line.cluster for line in lines} | set(idle)):
        own = [line for line in lines if line.cluster == cluster]
        idle_costs = idle.get(cluster, Costs())
        if model.idle is IdleMode.DISTRIBUTE and any(line.costs.compute > 0 for line in own):
            shares = _shares(idle_costs.total, [line.costs.compute for line in own])
            own = [dataclasses.replace(line, idle_share=share) for line, share in zip(own, shares, strict=True)]
        elif idle_costs.total > 0:
            own.append(_idle_line(cluster, idle_costs))
        if model.shared is not None:
            own = _share(own, _namespaces(model.shared.namespaces), model.shared.distribute)
        result.extend(own)
    return [_split_to_workloads(line) for line in result]


def _split_to_workloads(line: ChargeLine) -> ChargeLine:
    if not line.workloads or not (line.idle_share or line.shared_share):
        return line
    weights = [part.costs.compute for part in line.workloads]
    parts = tuple(dataclasses.replace(part, idle_share=idle, shared_share=shared) for part, idle, shared in
                  zip(line.workloads, _shares(line.idle_share, weights), _shares(line.shared_share, weights),
                      strict=True))  # fmt: skip
    return dataclasses.replace(line, workloads=parts)


def _namespaces(patterns: Sequence[str]) -> Callable[[ChargeLine], bool]:
    return lambda line: any(fnmatchcase(line.namespace, pattern) for pattern in patterns)


def _share(lines: list[ChargeLine], is_shared: Callable[[ChargeLine], bool], mode: ShareMode) -> list[ChargeLine]:
    receivers = [i for i, line in enumerate(lines) if line.team != IDLE and not is_shared(line)]
    givers = [i for i, line in enumerate(lines) if line.team != IDLE and is_shared(line)]
    if not receivers or not givers:
        return lines
    amount = math.fsum(lines[i].costs.total + lines[i].idle_share for i in givers)
    received = [0.0] * len(lines)
    if mode is ShareMode.PROPORTIONAL:
        for i, share in zip(receivers, _shares(amount, [lines[i].costs.total for i in receivers]), strict=True):
            received[i] = share
    else:
        teams = sorted({lines[i].team for i in receivers})
        for team in teams:
            members = [i for i in receivers if lines[i].team == team]
            for i, share in zip(members, _shares(amount / len(teams), [lines[i].costs.total for i in members]),
                                strict=True):  # fmt: skip
                received[i] = share
    for i in givers:
        received[i] = -(lines[i].costs.total + lines[i].idle_share)
    return [dataclasses.replace(line, shared_share=line.shared_share + received[i]) if received[i] else line
            for i, line in enumerate(lines)]  # fmt: skip
