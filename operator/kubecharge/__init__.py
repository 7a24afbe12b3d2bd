"""kubecharge: Kubernetes chargeback from Prometheus usage, priced per team, that finance can trust.

The pipeline runs one way — collect → attribute → roll up → store → price → render → publish — and
`kubecharge.pipeline` is the only module that knows the order. The CLI and the operator both call it.
"""

__version__ = "0.1.0"
