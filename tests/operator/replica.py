"""One operator replica in its own process, as a pod runs it: `python -m tests.operator.replica CLOCK`.

Settings come from the KUBECHARGE_* environment, as in the chart; CLOCK (ISO-8601) fixes the operator's clock
inside the synthetic history. A separate process can be killed (SIGKILL) the way a node failure kills a pod.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

import kopf

from kubecharge.handlers.app import run_operator
from kubecharge.settings import Settings


def main() -> None:
    moment = datetime.fromisoformat(sys.argv[1])
    kopf.configure(log_format=kopf.LogFormat.FULL)  # as `kubecharge operator` logs
    asyncio.run(run_operator(Settings(), clock=lambda: moment))


if __name__ == "__main__":
    main()
