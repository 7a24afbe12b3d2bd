"""Errors a user can meet, each with a message that says what is wrong and what to do.

    KubechargeError
    ├── InputError              bad input from the user: fix it and run again
    │   ├── ManifestError       a TeamMapping / UsageReport manifest is unreadable or breaks the CRD schema
    │   ├── PeriodError         a period string that is not YYYY-MM, YYYY-MM-DD, YYYY-Www or START/END
    │   └── NotAllowed          input the operator's settings do not permit (another Prometheus, file://)
    ├── SourceError             the metrics source failed: retry later, or fix its address
    │   ├── PrometheusUnavailable   unreachable, timed out, or answered with an error
    │   └── NoUsageData         reachable but holds no kube-state-metrics / cAdvisor series for the period
    │       └── PeriodNotStarted    the period has no complete hour yet (a future period, or its first hour)
    ├── StorageError            the database refused a read or a write
    └── KubernetesApiError      the Kubernetes API refused a write (RBAC, quota, validation)

The CLI prints `str(error)` on one line and exits non-zero; the operator puts it in status and an Event.
Anything that is not a KubechargeError is a bug and keeps its traceback.
"""


class KubechargeError(Exception):
    """Base of every error a user can meet."""

    exit_code = 1


class InputError(KubechargeError):
    """The user's input is wrong; running again unchanged will fail the same way."""

    exit_code = 2


class ManifestError(InputError):
    """A manifest cannot be read or does not satisfy its CRD schema."""


class PeriodError(InputError):
    """A period cannot be parsed."""


class NotAllowed(InputError):
    """Input that is well-formed but that this operator's settings do not permit."""


class SourceError(KubechargeError):
    """The metrics source could not answer; a later run may succeed."""

    exit_code = 3


class PrometheusUnavailable(SourceError):
    """Prometheus is unreachable or returned an error."""


class NoUsageData(SourceError):
    """Prometheus answered but has no usage series for the period."""


class StorageError(KubechargeError):
    """The database failed; nothing of the run was written."""

    exit_code = 4


class PeriodNotStarted(NoUsageData):
    """The period has no complete hour yet: nothing can be charged before its first hour ends."""


class KubernetesApiError(KubechargeError):
    """The Kubernetes API refused a read or write the operator needs; summarised, never its raw body."""
