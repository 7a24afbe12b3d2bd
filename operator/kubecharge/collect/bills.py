"""A cloud bill as the price of nodes: a FOCUS 1.2 export (CSV or Parquet), per machine and hour.

A row's `ResourceId` is matched to a node's `provider_id` (from `kube_node_info`): exactly, without the scheme
(`aws:///us-east-1a/i-0abc` → `us-east-1a/i-0abc`), or by its last path segment (`i-0abc`, which is also the
last segment of an ARN `arn:aws:ec2:…:instance/i-0abc`), case-insensitively. `EffectiveCost` is what the
machine cost after spot, reserved-instance and savings-plan rates; a row spanning several hours
(`ChargePeriodStart`–`ChargePeriodEnd`) is spread evenly over them.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from kubecharge.errors import InputError

REQUIRED = ("ResourceId", "EffectiveCost", "ChargePeriodStart", "ChargePeriodEnd")
_HOUR = timedelta(hours=1)


def _keys(resource_id: str) -> tuple[str, str]:
    text = re.sub(r"^[a-z]+://", "", resource_id.strip().lower()).strip("/")
    return text, re.split(r"[/:]", text)[-1]


@dataclass(frozen=True)
class FocusBill:
    name: str
    hourly: dict[str, dict[datetime, float]]  # by resource key (both forms), per hour start: EffectiveCost
    currency: str | None

    def cost(self, provider_id: str, hour_start: datetime) -> float | None:
        for key in _keys(provider_id):
            found = self.hourly.get(key)
            if found is not None:
                return found.get(hour_start)
        return None


def read_focus_bill(data: bytes, name: str, currency: str) -> FocusBill:
    """Parse a FOCUS export; a file that is not one, or bills another currency, is the user's input error."""
    try:
        if data[:4] == b"PAR1":
            frame = pd.read_parquet(io.BytesIO(data))
        else:
            frame = pd.read_csv(io.BytesIO(data), dtype={"ResourceId": str}, keep_default_na=False)
    except Exception as error:
        raise InputError(f"node costs {name}: not a readable FOCUS CSV or Parquet file ({type(error).__name__}); "
                         "export the cloud bill in FOCUS 1.2 format") from None  # fmt: skip
    missing = [column for column in REQUIRED if column not in frame.columns]
    if missing:
        raise InputError(f"node costs {name}: FOCUS columns {', '.join(missing)} are missing; the file needs "
                         f"{', '.join(REQUIRED)}")  # fmt: skip
    currencies = sorted({str(c) for c in frame.get("BillingCurrency", pd.Series(dtype=object)) if str(c)})
    if currencies and currencies != [currency]:
        raise InputError(f"node costs {name} bill in {', '.join(currencies)}, the report prices in {currency}; "
                         "set spec.pricing.currency to the bill's currency")  # fmt: skip
    try:
        starts = pd.to_datetime(frame["ChargePeriodStart"], utc=True)
        ends = pd.to_datetime(frame["ChargePeriodEnd"], utc=True)
        costs = pd.to_numeric(frame["EffectiveCost"])
    except (ValueError, TypeError) as error:
        raise InputError(f"node costs {name}: {error}; ChargePeriodStart/End must be ISO 8601 times and "
                         "EffectiveCost a number") from None  # fmt: skip
    hourly: dict[str, dict[datetime, float]] = defaultdict(lambda: defaultdict(float))
    for resource_id, start, end, cost in zip(frame["ResourceId"], starts, ends, costs, strict=True):
        if not str(resource_id) or pd.isna(cost):
            continue
        first = start.floor("h").to_pydatetime()
        hours = max(1, int((end.to_pydatetime() - first) / _HOUR + 0.999999))
        for key in dict.fromkeys(_keys(str(resource_id))):
            for index in range(hours):
                hourly[key][first + index * _HOUR] += float(cost) / hours
    return FocusBill(name, {key: dict(values) for key, values in hourly.items()}, currencies[0] if currencies else None)
