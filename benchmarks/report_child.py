"""Run one `kubecharge report` in this process and print its timings as JSON (the benchmark's child)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from kubecharge.cli import produce_report
from kubecharge.settings import Settings


def main() -> None:
    prometheus, mappings, period, out, db = sys.argv[1:6]
    began = time.perf_counter()
    result = produce_report(
        settings=Settings(),
        prometheus=prometheus,
        mappings_path=Path(mappings),
        period_text=period,
        out=Path(out),
        report_path=None,
        db=db,
        cluster="bench",
    )
    print(
        json.dumps(
            {
                "wall_seconds": time.perf_counter() - began,
                "prometheus_seconds": result.extra["seconds_waiting_on_prometheus"],
                "rollup_rows": result.rollup_rows,
                "total_cost": result.chargeback.total_costs.total,
            }
        )
    )


if __name__ == "__main__":
    main()
