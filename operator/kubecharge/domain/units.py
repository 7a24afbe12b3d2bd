"""Units, in one place, so every stage converts the same way."""

BYTES_PER_GIB = 2**30
SECONDS_PER_HOUR = 3600
