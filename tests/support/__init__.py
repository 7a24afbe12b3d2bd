"""What the tests share: running reports and checking them against the generator's truth (reports.py), histories
loaded into a real Prometheus (history.py, two_clusters.py), the real second backends and stand-ins
(victoria.py, standin.py, postgres.py), a fault-injecting proxy (proxy.py), the FOCUS validator
(focus_validation.py) and an in-memory usage source (memory_source.py)."""
