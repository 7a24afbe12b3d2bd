"""A synthetic cluster with exact ground truth, rendered as real kube-state-metrics and cAdvisor series."""
