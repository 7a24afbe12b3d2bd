"""Units, in one place, so every stage converts the same way — and writes numbers the same way."""

from collections.abc import Callable

BYTES_PER_GIB = 2**30
SECONDS_PER_HOUR = 3600


# How every human view writes numbers (the report's documents, the portal's pages, the showback messages).
NUMBER_FILTERS: dict[str, Callable[[float], str]] = {
    "money": lambda value: f"{round(value, 2) or 0.0:,.2f}",  # never "-0.00"
    "qty": lambda value: f"{value:,.1f}",
    "precise": lambda value: f"{value:,.3f}",  # requests: 0.204 cores, 0.250 GiB
    "pct": lambda value: f"{100 * value:.1f}%",
}
