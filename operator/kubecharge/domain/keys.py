"""Integer keys for joining and grouping frames: one numbering per call, shared by every frame given to it.

A chunk's container frames are joined on four string columns and the hour. pandas merges on string columns hash
every string of every merge again (the costliest part of a rollup); here each column is factorized once over all
frames together and the columns are folded into one dense int64 code per row, so joins become array lookups and
groups become `bincount`s. Codes are dense (0 … n-1), so a code can index an array of per-key values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

Codes = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class Coder:
    """Codes for rows of several frames, each column factorized once (over all the frames together) however many
    combinations of columns are asked for."""

    def __init__(self, frames: Sequence[pd.DataFrame]) -> None:
        self.frames = list(frames)
        self._columns: dict[str, tuple[Codes, int, npt.NDArray[np.object_]]] = {}

    def column(self, name: str) -> tuple[list[Codes], npt.NDArray[np.object_]]:
        """`name` of every frame in one numbering, and the values (uniques) the codes stand for."""
        codes, _, uniques = self._column(name)
        return _split(codes, self.frames), uniques

    def rows(self, columns: Sequence[str]) -> tuple[list[Codes], int]:
        """One dense code per row of every frame for the combination of `columns` (equal rows, equal codes, across
        frames too), and how many distinct combinations there are."""
        combined: Codes = np.zeros(sum(len(frame) for frame in self.frames), dtype=np.int64)
        count = 1
        for name in columns:
            codes, values, _ = self._column(name)
            dense, found = pd.factorize(combined * values + codes)  # below the row count: no overflow
            combined, count = np.asarray(dense, dtype=np.int64), len(found)
        return _split(combined, self.frames), count

    def _column(self, name: str) -> tuple[Codes, int, npt.NDArray[np.object_]]:
        """Each frame's column factorized on its own (pandas encodes a pyarrow string column without making a
        Python string per row), then the frames' few distinct values put in one numbering."""
        if name not in self._columns:
            parts = [pd.factorize(_values(frame[name])) for frame in self.frames]
            distinct = [np.asarray(uniques, dtype=object) for _, uniques in parts]
            joint, uniques = pd.factorize(np.concatenate(distinct) if distinct else np.zeros(0, dtype=object))
            joint = np.asarray(joint, dtype=np.int64)
            missing = len(uniques)  # a missing value is a value of its own
            offsets = np.cumsum([0, *(len(values) for values in distinct)])
            codes = [np.append(joint[offsets[i]:offsets[i + 1]], missing)[np.asarray(part_codes, dtype=np.int64)]
                     for i, (part_codes, _) in enumerate(parts)]  # a code of -1 (missing) takes the last  # fmt: skip
            self._columns[name] = (
                np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64),
                len(uniques) + 1,
                np.asarray(uniques, dtype=object),
            )
        return self._columns[name]


def texts(values: npt.NDArray[np.object_] | str, index: pd.Index) -> pd.Series:
    """Names as a column of Python strings (numpy object dtype): pandas would otherwise convert an array of names
    into a pyarrow string column, copying every name, only for `Coder` to encode it again."""
    if isinstance(values, str):
        return pd.Series(np.full(len(index), values, dtype=object), index=index, dtype=object)
    return pd.Series(values, index=index, dtype=object)


def column_codes(frames: Sequence[pd.DataFrame], column: str) -> tuple[list[Codes], npt.NDArray[np.object_]]:
    """`column` of every frame in one numbering, and the values (uniques) the codes stand for."""
    return Coder(frames).column(column)


def row_codes(frames: Sequence[pd.DataFrame], columns: Sequence[str]) -> tuple[list[Codes], int]:
    """`Coder.rows` for one combination of columns."""
    return Coder(frames).rows(columns)


def first_of(codes: Codes, count: int) -> Codes:
    """For each code 0 … count-1, the index of its first row (-1 where no row has it)."""
    first = np.full(count, -1, dtype=np.int64)
    found, index = np.unique(codes, return_index=True)
    first[found] = index
    return first


def exact_sums(codes: Codes, values: FloatArray, count: int) -> FloatArray:
    """The exact sum (`math.fsum`: independent of row order) of `values` per code 0 … count-1. Codes with one row
    take its value as it is; only shared codes are summed in Python, one `fsum` per group."""
    sums = np.zeros(count, dtype=np.float64)
    if not len(codes):
        return sums
    sizes = np.bincount(codes, minlength=count)
    single = sizes[codes] == 1
    sums[codes[single]] = values[single]
    shared = np.flatnonzero(~single)
    if len(shared):
        order = shared[np.argsort(codes[shared], kind="stable")]
        groups = codes[order]
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        ends = np.r_[starts[1:], len(order)]
        ordered = values[order].tolist()
        sums[groups[starts]] = [math.fsum(ordered[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    return sums


def unique_per(keys: Codes, values: Codes, count: int) -> Codes:
    """Per key 0 … count-1, its value where every row of the key has the same one, else -1 (none, or several)."""
    found = np.full(count, -1, dtype=np.int64)
    if not len(keys):
        return found
    span = int(values.max()) + 1
    pairs = np.unique(keys * span + values)  # each (key, value) once
    pair_keys = pairs // span
    alone = np.bincount(pair_keys, minlength=count)[pair_keys] == 1
    found[pair_keys[alone]] = pairs[alone] % span
    return found


def _values(column: pd.Series) -> Any:
    """A column as factorize takes it: hours as int64 nanoseconds (whatever their unit and zone), anything else
    as it is."""
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(column.dtype):
        return np.asarray(column.astype("datetime64[ns, UTC]").to_numpy(dtype="datetime64[ns]").view(np.int64))
    return column.array


def _split(codes: Codes, frames: Sequence[pd.DataFrame]) -> list[Codes]:
    bounds = np.cumsum([len(frame) for frame in frames])[:-1]
    return list(np.split(codes, bounds))
