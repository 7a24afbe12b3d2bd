"""A pod-hour's rows split by the label sets its pod had in the hour (TeamMapping podSelector claims pods by their
labels, per hour: a pod relabelled in the middle of an hour is two teams' for the time each label set held)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kubecharge.domain.collected import HOUR, POD_KEYS, POD_LABELS, VALUE
from kubecharge.domain.keys import Coder


def split_by_labels(rows: pd.DataFrame, columns: Sequence[str], labels: pd.DataFrame) -> pd.DataFrame:
    """`rows` (keyed by namespace, pod, uid, hour_start) with a `pod_labels` column: a row of a pod-hour `labels`
    holds is repeated once per label set, its `columns` multiplied by that set's share of the hour; any other row
    is kept whole with no labels ("")."""
    if labels.empty or rows.empty:
        whole: pd.DataFrame = rows.assign(**{POD_LABELS: ""})
        return whole
    (row_pods, label_pods), pods = Coder([rows, labels]).rows([*POD_KEYS, HOUR])
    order = np.argsort(label_pods, kind="stable")
    sets = np.bincount(label_pods, minlength=pods)
    first = np.concatenate([[0], np.cumsum(sets)[:-1]])
    repeats = sets[row_pods]
    plain = repeats == 0
    kept: pd.DataFrame = rows.loc[plain].assign(**{POD_LABELS: ""})
    labelled = np.flatnonzero(~plain)
    if not len(labelled):
        return kept.reset_index(drop=True)
    times = repeats[labelled]
    source = np.repeat(labelled, times)
    offsets = np.arange(len(source)) - np.repeat(np.cumsum(times) - times, times)
    picked = order[first[row_pods[source]] + offsets]  # the label rows of each repeated row's pod-hour
    split = rows.iloc[source].reset_index(drop=True)
    shares = labels[VALUE].to_numpy(dtype=np.float64)[picked]
    for column in columns:
        split[column] = split[column].to_numpy(dtype=np.float64) * shares
    split[POD_LABELS] = labels[POD_LABELS].to_numpy(dtype=object)[picked]
    return pd.concat([kept, split], ignore_index=True)
