"""Errors a user can meet, each with a message that says what is wrong and what to do.

    KubechargeError
    ├── InputError              bad input from the user: fix it and run again
    │   ├── ManifestError       a TeamMapping / UsageReport manifest is unreadable or breaks the CRD schema
    │   ├── PeriodError         a period string that is not YYYY-MM, YYYY-MM-DD, YYYY-Www or START/END
    │   └── PeriodNotStarted    the period has no complete hour yet (a future period, or its first hour)
    ├── SourceError             the metrics source failed: retry later, or fix its address
    │   ├── PrometheusUnavailable   unreachable, timed out, or answered with an error
    │   │   └── TooManySamples  the backend refused a query for the samples it would load (halved and asked again)
    │   ├── NoUsageData         reachable but holds no kube-state-metrics / cAdvisor series for the period
    │   └── DemoError           the demo cannot start its local Prometheus (or was given a step it cannot use)
    ├── StorageError            the database refused a read or a write
    ├── StorageTargetError      object storage refused or failed an operation (exit 5)
    │   ├── ImmutableObjectError    a final object cannot be replaced
    │   ├── ObjectExistsError   an exclusive create found the key taken
    │   └── ExportUnreadable    `verify` cannot read the export (exit 7)
    ├── OutputError             the --out folder refused a write after the run (exit 5)
    ├── IncompletePeriod        `report --require-complete`: the period has hours without data (or is not over)
    ├── KubernetesApiError      the Kubernetes API refused a write (RBAC, quota, validation)
    ├── SecretError             the report's object-storage Secret is missing or incomplete
    └── LeaseLost               another replica took a report's run lease while this one ran it

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


class PeriodNotStarted(InputError):
    """The period has no complete hour yet: nothing can be charged before its first hour ends."""


class SourceError(KubechargeError):
    """The metrics source could not answer; a later run may succeed."""

    exit_code = 3


class PrometheusUnavailable(SourceError):
    """Prometheus is unreachable or returned an error."""


class TooManySamples(PrometheusUnavailable):
    """The backend refused a query for the samples it would load (a smaller time range will do)."""


class NoUsageData(SourceError):
    """Prometheus answered but has no usage series for the period."""


class DemoError(SourceError):
    """The demo cannot run here: no local Prometheus, or a scrape step that does not divide an hour."""


class StorageError(KubechargeError):
    """The database failed; nothing of the run was written."""

    exit_code = 4


class IncompletePeriod(KubechargeError):
    """The report was asked to be complete (`--require-complete`) and is not: finance must not book it."""

    exit_code = 8


class KubernetesApiError(KubechargeError):
    """The Kubernetes API refused a read or write the operator needs; summarised, never its raw body."""


class StorageTargetError(KubechargeError):
    """The object store refused or failed an operation."""

    exit_code = 5


class ImmutableObjectError(StorageTargetError):
    """An attempt to replace an object that is final."""


class ObjectExistsError(StorageTargetError):
    """An exclusive create found the key taken: another writer got there first."""


class ExportUnreadable(StorageTargetError):
    """`verify` could not read the export's manifest: the URL, the credentials or the permissions are wrong, which
    says nothing about whether its files were changed."""

    exit_code = 7


class OutputError(KubechargeError):
    """The report folder could not be written (after the run: the ledger has the hours, a rerun is cheap)."""

    exit_code = 5


class SecretError(KubechargeError):
    """The object-storage Secret named by spec.outputs.objectStorage.secretRef is missing or incomplete."""


class LeaseLost(KubechargeError):
    """Another replica took this report's run lease while this one ran it (this one was too slow to renew)."""
