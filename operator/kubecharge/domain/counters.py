"""A counter series' increase per hour, from per-hour facts every backend evaluates alike.

`increase()` is not one function across backends: Prometheus extrapolates each window to its edges (and up to
half an interval past a series' last sample), VictoriaMetrics reads the last sample before the window and never
extrapolates. kubecharge asks instead, per series and hour, for the last, lowest and highest value and the number
of samples (`collect.promql.COUNTER_MEASURES`), and takes the differences here:

- a series seen in the hour before: this hour's last value minus that hour's last value — consecutive hours add
  up exactly, and usage in a gap between samples (an outage across an hour's edge) lands in the hour after it;
- a reset (a value lower than the hour before's last, or a highest value above the last: a counter only falls
  by resetting): the part before the reset, where the hour's highest value is before it, plus the last value
  counted from zero;
- a series not seen in the hour before that starts near zero (its lowest value at most what it gained within the
  hour, or a single sample): a new cgroup, counted from zero — its first sample's value is usage since it began;
- otherwise (a series back after more than an hour without samples): only what it gained within the hour.

Usage after a series' last sample (a container that ends between scrapes) is never guessed: the estimate is what
the samples prove, at most one scrape interval of the container's usage short.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def hourly_increase(
    last: FloatArray, low: FloatArray, high: FloatArray, samples: FloatArray, previous_last: FloatArray
) -> FloatArray:
    """Element-wise increase of each (series, hour); `previous_last` is NaN where the series had no sample in the
    hour before."""
    seen_before = ~np.isnan(previous_last)
    before = np.where(seen_before, previous_last, 0.0)
    reset = seen_before & ((high > last) | (low < before))
    # After a reset, the hour's highest value is the peak before it only where it exceeds the last value.
    before_reset = np.where(high > last, high, before) - before
    starts_at_zero = (samples <= 1) | (low <= last - low)
    increase = np.where(
        seen_before,
        np.where(reset, last + np.maximum(before_reset, 0.0), last - before),
        np.where(starts_at_zero, last, last - low),
    )
    return np.asarray(increase, dtype=np.float64)
