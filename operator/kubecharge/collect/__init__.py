"""Collect: ask Prometheus one typed question at a time, receive per-hour aggregates (never raw samples)."""
