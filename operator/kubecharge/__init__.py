"""kubecharge: Kubernetes chargeback from Prometheus usage, priced per team, that finance can trust.

Entry points (`cli`, `demo`, `handlers`) call one report job, `pipeline.job.produce_report`; the `pipeline` package
is the only one that knows the order of the stages (collect → roll up → store → attribute → price → allocate →
outlook → render → publish); the stages share only `domain`. pyproject.toml's import-linter contracts hold that.
"""

__version__ = "0.1.0"
