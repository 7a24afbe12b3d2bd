"""A pod-hour's rows split by the label sets its pod had in the hour (TeamMapping podSelector claims pods by their
labels, per hour: a pod relabelled in the middle of an hour is two teams' for the time each label set held)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from kubecharge.domain.collected import POD_LABELS
from kubecharge.domain.keys import texts
from kubecharge.domain.pod_hours import split_pod_hours


def split_by_labels(rows: pd.DataFrame, columns: Sequence[str], labels: pd.DataFrame) -> pd.DataFrame:
    """`rows` (keyed by namespace, pod, uid, hour_start) with a `pod_labels` column: a row of a pod-hour `labels`
    holds is repeated once per label set, its `columns` multiplied by that set's share of the hour; any other row
    is kept whole with no labels ("")."""
    return split_pod_hours(rows.assign(**{POD_LABELS: texts("", rows.index)}), columns, labels, [POD_LABELS])
