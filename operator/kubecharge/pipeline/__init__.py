"""The pipeline: the only package that knows the order of the stages, and the one report job every caller runs.

    request.py   what a report is asked for (ReportRequest), built from manifests and settings
    run.py       one run: collect the hours the ledger lacks → roll up → store → attribute → price → allocate → outlook
    priced.py    attributed hours priced over a span (the period, its days, the period before, the history)
    outputs.py   the formats, rendered once per run; the finance manifest's fields; the one totals record
    job.py       produce and publish a report: what the CLI, the operator and the portal call
    admin.py     the other things an entry point asks of the stages: check an export, migrate the ledger

Entry points (`cli`, `handlers`, `demo`) import this package and never a stage; the import-linter contracts in
pyproject.toml hold that.
"""
