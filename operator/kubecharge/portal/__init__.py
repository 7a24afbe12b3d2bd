"""The portal: `kubecharge serve`, pages and a JSON API over the ledger, each viewer seeing the teams Kubernetes
RBAC lets them see."""
