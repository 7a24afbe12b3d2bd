"""A pod-hour's rows split into the parts of the hour its pod spent in each state (a label set, an owner): what a
pod relabelled or adopted in the middle of an hour was, for the time each held."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kubecharge.domain.collected import HOUR, POD_KEYS, VALUE
from kubecharge.domain.keys import Coder, texts


def split_pod_hours(rows: pd.DataFrame, columns: Sequence[str], parts: pd.DataFrame,
                    part_columns: Sequence[str]) -> pd.DataFrame:  # fmt: skip
    """`rows` keyed by namespace, pod, uid, hour_start: a row whose pod-hour has rows in `parts` is repeated once per
    part, with that part's `part_columns` and its `columns` multiplied by the part's share (`value`); every other
    row is kept as it is (first, in its order)."""
    if parts.empty or rows.empty:
        return rows
    (row_pods, part_pods), pods = Coder([rows, parts]).rows([*POD_KEYS, HOUR])
    order = np.argsort(part_pods, kind="stable")
    counts = np.bincount(part_pods, minlength=pods)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    repeats = counts[row_pods]
    whole = repeats == 0
    splitting = np.flatnonzero(~whole)
    if not len(splitting):
        return rows.reset_index(drop=True)  # copy-on-write: no rows copied
    times = repeats[splitting]
    source = np.repeat(splitting, times)
    offsets = np.arange(len(source)) - np.repeat(np.cumsum(times) - times, times)
    picked = order[first[row_pods[source]] + offsets]  # the part rows of each repeated row's pod-hour
    # One copy of the rows: those kept whole, then the repeated ones, whose columns are then set.
    kept = np.flatnonzero(whole)
    result = rows.iloc[np.concatenate([kept, source])].reset_index(drop=True)
    tail = np.arange(len(kept), len(result))
    shares = parts[VALUE].to_numpy(dtype=np.float64)[picked]
    for column in columns:
        values = result[column].to_numpy(dtype=np.float64, copy=True)
        values[tail] *= shares
        result[column] = values
    for column in part_columns:
        names = result[column].to_numpy(dtype=object, copy=True)
        names[tail] = parts[column].to_numpy(dtype=object)[picked]
        result[column] = texts(names, result.index)
    return result
