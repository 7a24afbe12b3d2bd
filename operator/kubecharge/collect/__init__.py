"""Collect (a stage): ask Prometheus one typed question at a time (promql.py holds every query, source.py the
interface), stream its answers (answers.py) and hand per-hour aggregates, chunk by chunk (chunks.py), to the pipeline.
Imports only `domain`, `errors` and `settings`; never another stage."""
