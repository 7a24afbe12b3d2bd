"""Errors a user can meet, each with a message that says what is wrong and what to do.

    KubechargeError
    ├── InputError              bad input from the user: fix it and run again
    │   ├── ManifestError       a TeamMapping / UsageReport manifest is unreadable or breaks the CRD schema
    │   ├── PeriodError         a period string that is not YYYY-MM, YYYY-MM-DD, YYYY-Www or START/END
    │   └── NotAllowed          input the operator's settings do not permit (another Prometheus, file://)
    │   └── PeriodNotStarted    the period has no complete hour yet (a future period, or its first hour)
    ├── SourceError             the metrics source failed: retry later, or fix its address
    │   ├── PrometheusUnavailable   unreachable, timed out, or answered with an error
    │   └── NoUsageData         reachable but holds no kube-state-metrics / cAdvisor series for the period
    ├── StorageError            the database refused a read or a write
    ├── IncompletePeriod        `report --require-complete`: the period has hours without data (or is not over)
    └── KubernetesApiError      the Kubernetes API refused a write (RBAC, quota, validation)
    (publish.objectstore.StorageTargetError, publish.directory.OutputError: a write refused, exit 5;
     publish.exports.ExportUnreadable: `verify` cannot read the export, exit 7)

The CLI prints `str(error)` on one line and exits with the error's `exit_code` (EXIT_CODES, which README's table
must match); the operator puts it in status and an Event. Anything that is not a KubechargeError is a bug and keeps
its traceback.
"""

# Every exit code the CLI uses, and what it means (README's table is checked against this one).
EXIT_CODES = {
    0: "success",
    2: "bad input: a manifest, period (one that has not started included), option, or an --out or --publish "
    "folder that cannot be written",
    3: "Prometheus unreachable, or without data for the period",
    4: "database error",
    5: "object storage or --out refused a write after the run",
    6: "`verify`: a file differs from its manifest (or is missing)",
    7: "`verify`: the export cannot be read (wrong URL, no credentials, no permission)",
    8: "`report --require-complete`: the period has hours without data, or is not over; nothing was written",
}


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


class PeriodNotStarted(InputError):
    """The period has no complete hour yet: nothing can be charged before its first hour ends."""


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


class IncompletePeriod(KubechargeError):
    """The report was asked to be complete (`--require-complete`) and is not: finance must not book it."""

    exit_code = 8


class KubernetesApiError(KubechargeError):
    """The Kubernetes API refused a read or write the operator needs; summarised, never its raw body."""
