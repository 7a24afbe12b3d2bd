"""Object storage behind one small interface, with two real targets: `s3://bucket/prefix` and `file:///path`.

`put(..., exclusive=True)` creates an object only if its key is free (S3 `If-None-Match: *`, a hard link on a
file system), so two writers can never mix their files in one export version. `put(..., immutable=True)` is
how a final export is written: exclusive, and on an S3 bucket with Object Lock enabled it also sets COMPLIANCE
retention, so not even the account owner can delete or overwrite it before the retention ends. When a lock is
asked for and the bucket's lock state cannot be read, the final is refused rather than written unlocked.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from kubecharge.errors import ImmutableObjectError, InputError, ObjectExistsError, StorageTargetError


class ObjectStore(Protocol):
    @property
    def url(self) -> str: ...

    def put(self, key: str, data: bytes, *, immutable: bool = False, exclusive: bool = False) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def keys(self, prefix: str) -> list[str]: ...


def _taken(location: str, immutable: bool) -> StorageTargetError:
    """What an exclusive create that found its key taken says."""
    if immutable:
        return ImmutableObjectError(f"{location} is final and is never overwritten")
    return ObjectExistsError(f"{location} was written by another writer at the same time")


def _join(*parts: str) -> str:
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


@dataclass
class FileStore:
    root: Path

    @property
    def url(self) -> str:
        return f"file://{self.root}"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents and path != self.root.resolve():
            raise InputError(f"object key {key!r} leaves the export folder")
        return path

    def check_writable(self) -> None:
        """Refuse a folder this process cannot write before any work is done (nothing is created here)."""
        folder = self.root
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"{self.url}: {folder} is not a folder this process can write; fix its permissions "
                             "or publish elsewhere")  # fmt: skip

    def put(self, key: str, data: bytes, *, immutable: bool = False, exclusive: bool = False) -> None:
        path = self._path(key)
        taken = _taken(f"{self.url}/{key}", immutable)
        if (immutable or exclusive) and path.exists():
            raise taken
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            if immutable:
                os.chmod(temporary, 0o444)
            if immutable or exclusive:
                try:
                    os.link(temporary, path)  # fails if the name exists: no race can replace it
                except FileExistsError:
                    raise taken from None
                finally:
                    os.unlink(temporary)
            else:
                os.replace(temporary, path)
        except OSError as error:
            raise StorageTargetError(f"cannot write {self.url}/{key} ({error.strerror}); check the folder's "
                                     "permissions and free space") from None  # fmt: skip

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StorageTargetError(f"{self.url}/{key} does not exist") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def keys(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file() and
                      not p.name.startswith(".tmp-"))  # fmt: skip


@dataclass
class S3Store:
    bucket: str
    prefix: str
    client: Any
    retention: timedelta = timedelta(days=2555)  # zero: no Object Lock asked for

    @property
    def url(self) -> str:
        return f"s3://{_join(self.bucket, self.prefix)}"

    def _key(self, key: str) -> str:
        return _join(self.prefix, key)

    def _call(self, what: str, action: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return action()
        except NoCredentialsError:
            raise StorageTargetError(
                f"no AWS credentials to {what} in s3://{self.bucket}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or AWS_PROFILE, or run where a role provides them)"
            ) from None
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise StorageTargetError(f"object storage refused to {what} ({code}: {error})") from None
        except BotoCoreError as error:
            raise StorageTargetError(f"object storage unreachable while trying to {what} ({error})") from None

    def _object_lock(self) -> bool:
        """Whether finals get a COMPLIANCE lock: the bucket has Object Lock and a retention is asked for."""
        from botocore.exceptions import BotoCoreError, ClientError

        if not self.retention:
            return False
        try:
            answer = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ObjectLockConfigurationNotFoundError":
                return False  # a bucket without Object Lock: finals rest on conditional writes alone
            raise StorageTargetError(
                f"cannot read the Object Lock state of bucket {self.bucket} ({code}), so a final would be written "
                "without its lock: grant s3:GetBucketObjectLockConfiguration, or set "
                "spec.outputs.objectStorage.retention: 0d to write finals without a lock"
            ) from None
        except BotoCoreError as error:
            raise StorageTargetError(f"object storage unreachable while reading bucket {self.bucket}'s Object Lock "
                                     f"state ({type(error).__name__})") from None  # fmt: skip
        return bool(answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled")

    def put(self, key: str, data: bytes, *, immutable: bool = False, exclusive: bool = False) -> None:
        from botocore.exceptions import ClientError

        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key), "Body": data}
        if not immutable and not exclusive:
            self._call(f"write {key}", lambda: self.client.put_object(**arguments))
            return
        refused = _taken(f"{self.url}/{key}", immutable)
        if self.exists(key):
            raise refused
        if immutable and self._object_lock():
            arguments["ObjectLockMode"] = "COMPLIANCE"
            arguments["ObjectLockRetainUntilDate"] = datetime.now(UTC) + self.retention
        try:
            # A conditional write closes the race between the check above and the write.
            self.client.put_object(**arguments, IfNoneMatch="*")
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in {"PreconditionFailed", "ConditionalRequestConflict"}:
                raise refused from None
            if code not in {"NotImplemented", "InvalidArgument"}:
                raise StorageTargetError(f"object storage refused to write {key} ({code}: {error})") from None
            # An S3-compatible store without conditional writes: the existence check above is all there is.
            self._call(f"write {key}", lambda: self.client.put_object(**arguments))

    def get(self, key: str) -> bytes:
        return bytes(self._call(f"read {key}", lambda: self.client.get_object(Bucket=self.bucket, Key=self._key(key)))
                     ["Body"].read())  # fmt: skip

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise StorageTargetError(f"object storage refused to check {key} ({error})") from None
        return True

    def keys(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        full = self._key(prefix)
        found = []
        pages = self._call(f"list {prefix}", lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=full)))
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                found.append(key[len(self.prefix.strip("/")) + 1 :] if self.prefix.strip("/") else key)
        return sorted(found)


@dataclass(frozen=True)
class S3Options:
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    retention: timedelta = timedelta(days=2555)


def open_store(url: str, s3: S3Options = S3Options(), *, for_writing: bool = True) -> ObjectStore:
    """A store for `s3://bucket/prefix` (standard AWS credentials unless given) or `file:///path`; a folder
    that cannot be written is refused here, before any work, unless the store is only read."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if not parsed.path.startswith("/"):
            raise InputError(f"{url}: a file URL needs an absolute path, like file:///srv/exports")
        store = FileStore(Path(parsed.path))
        if for_writing:
            store.check_writable()
        return store
    if parsed.scheme == "s3" and parsed.netloc:
        import boto3

        client = boto3.client(
            "s3", endpoint_url=s3.endpoint_url, region_name=s3.region or "us-east-1",
            aws_access_key_id=s3.access_key_id, aws_secret_access_key=s3.secret_access_key,
        )  # fmt: skip
        return S3Store(parsed.netloc, parsed.path.strip("/"), client, s3.retention)
    raise InputError(f"{url}: publish to s3://bucket/prefix or file:///absolute/path")
