"""Kubernetes' effective pod request, applied to per-container request-hours.

A pod reserves, while it runs: its app containers' requests, its sidecars' (restartable init containers), its
RuntimeClass overhead, and — when its largest init container asks for more than the app containers together —
the difference, because the scheduler keeps that much free for the pod. kube-state-metrics lists sidecars with
the init containers (`restart_policy="Always"`) and does not say in which order init containers run, so sidecars
are taken to start before every regular init container (the usual layout: a mesh proxy first). The reservation
beyond the containers' own requests is charged on a row of its own, `(init containers)`, that nobody uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kubecharge.domain.collected import CONTAINER_KEYS, HOUR, VALUE
from kubecharge.domain.keys import exact_sums, first_of, row_codes

INIT_CONTAINER = "(init containers)"
KIND = "kind"
RESTART_POLICY = "restart_policy"
_POD_HOUR = ["namespace", "pod", "uid", HOUR]


def effective_requests(tagged: pd.DataFrame) -> pd.DataFrame:
    """Rows of kind app / init / overhead (init rows with their restart policy) → CONTAINER_KEYS rows: app
    containers, sidecars and overhead as they are, plus each pod-hour's init-container reservation."""
    columns = [*CONTAINER_KEYS, HOUR, VALUE]
    if tagged.empty:
        return pd.DataFrame(tagged.reindex(columns=columns))
    kind = tagged[KIND].to_numpy()
    sidecar = (kind == "init") & (tagged[RESTART_POLICY].to_numpy() == "Always")
    regular_init = (kind == "init") & ~sidecar
    kept = tagged.loc[~regular_init, columns]
    inits = tagged.loc[regular_init]
    if inits.empty:
        return pd.DataFrame(kept.reset_index(drop=True))
    apps = tagged.loc[kind == "app"]
    (init_pods, app_pods), count = row_codes([inits, apps], _POD_HOUR)
    largest = np.full(count, -np.inf)
    np.maximum.at(largest, init_pods, inits[VALUE].to_numpy(dtype=np.float64))
    app_sum = exact_sums(app_pods, apps[VALUE].to_numpy(dtype=np.float64), count)
    first = first_of(init_pods, count)
    reserved = np.maximum(largest - app_sum, 0.0)
    with_inits = np.flatnonzero((first >= 0) & (reserved > 0))
    reservation = inits.iloc[first[with_inits]][_POD_HOUR].reset_index(drop=True)
    reservation["container"] = INIT_CONTAINER
    reservation[VALUE] = reserved[with_inits]
    return pd.DataFrame(pd.concat([kept, reservation[columns]], ignore_index=True))
