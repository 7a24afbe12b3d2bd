"""Sending a message: HTTP POSTs (Slack, Teams, webhooks) and SMTP, each retried with backoff on what may pass
(5xx, 429, timeouts, a dropped connection) and given up at once on what will not (4xx, refused credentials).

A failure is a `DeliveryFailed` whose message names the host and what it answered — never the URL (a webhook URL
is its credential) nor a password."""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlsplit

import urllib3
from urllib3.util import Retry

TIMEOUT_SECONDS = 10.0
RETRIES = 2  # after the first attempt: three in all
BACKOFF_SECONDS = 0.5  # 0.5 s, then 1 s (urllib3 doubles it), at most BACKOFF_MAX_SECONDS
BACKOFF_MAX_SECONDS = 8.0
TRANSIENT_STATUSES = (429, 500, 502, 503, 504)
SIGNATURE_HEADER = "X-Kubecharge-Signature"
KEY_HEADER = "X-Kubecharge-Key"  # the message's key: a receiver can drop a copy (at-least-once after a crash)


class DeliveryFailed(Exception):
    """A message that did not arrive; the text is fit for status and logs."""


@dataclass(frozen=True)
class Delivered:
    attempts: int


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    start_tls: bool
    sender: str
    username: str | None = None
    password: str | None = None
    ca_pem: str | None = None


_pool = urllib3.PoolManager(num_pools=8)


def signature(key: bytes, body: bytes) -> str:
    """`sha256=<hex>` of the body under the key, as GitHub and Slack sign theirs."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def post_json(url: str, body: bytes, key: str, signing_key: bytes | None = None) -> Delivered:
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "kubecharge", KEY_HEADER: key}
    if signing_key is not None:
        headers[SIGNATURE_HEADER] = signature(signing_key, body)
    retry = Retry(total=RETRIES, backoff_factor=BACKOFF_SECONDS, backoff_max=BACKOFF_MAX_SECONDS,
                  status_forcelist=TRANSIENT_STATUSES, allowed_methods=None, raise_on_status=False,
                  respect_retry_after_header=True)  # fmt: skip
    host = urlsplit(url).hostname or "the endpoint"
    try:
        response = _pool.request("POST", url, body=body, headers=headers, retries=retry,
                                 timeout=urllib3.Timeout(total=TIMEOUT_SECONDS), redirect=False)  # fmt: skip
    except urllib3.exceptions.MaxRetryError as error:
        reason = type(error.reason).__name__
        raise DeliveryFailed(f"could not reach {host} ({reason}) after {RETRIES + 1} attempts") from None
    except urllib3.exceptions.HTTPError as error:
        raise DeliveryFailed(f"could not reach {host} ({type(error).__name__})") from None
    attempts = len(response.retries.history) + 1 if response.retries else 1
    if not 200 <= response.status < 300:
        raise DeliveryFailed(f"{host} answered {response.status} after {attempts} attempt(s)")
    return Delivered(attempts)


def send_email(target: SmtpTarget, email: EmailMessage) -> Delivered:
    """Over STARTTLS unless the channel says otherwise (a server that cannot is refused, not spoken to in the
    clear); 4xx answers and dropped connections are tried again."""
    context = ssl.create_default_context(cadata=target.ca_pem) if target.ca_pem else ssl.create_default_context()
    where = f"SMTP {target.host}:{target.port}"
    for attempt in range(1, RETRIES + 2):
        try:
            with smtplib.SMTP(target.host, target.port, timeout=TIMEOUT_SECONDS) as client:
                client.ehlo()
                if target.start_tls:
                    client.starttls(context=context)
                    client.ehlo()
                if target.username:
                    client.login(target.username, target.password or "")
                client.send_message(email)
            return Delivered(attempt)
        except smtplib.SMTPNotSupportedError:
            raise DeliveryFailed(f"{where} does not offer STARTTLS; the message was not sent in the clear") from None
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryFailed(f"{where} refused the credentials ({error.smtp_code})") from None
        except ssl.SSLError as error:
            raise DeliveryFailed(f"{where}: TLS failed ({error.reason or type(error).__name__})") from None
        except smtplib.SMTPResponseException as error:
            if error.smtp_code < 400 or error.smtp_code >= 500 or attempt > RETRIES:
                raise DeliveryFailed(f"{where} answered {error.smtp_code} after {attempt} attempt(s)") from None
        except smtplib.SMTPRecipientsRefused as error:
            raise DeliveryFailed(f"{where} refused {len(error.recipients)} recipient(s)") from None
        except (smtplib.SMTPException, OSError) as error:
            if attempt > RETRIES:
                raise DeliveryFailed(f"could not reach {where} ({type(error).__name__})") from None
        time.sleep(min(BACKOFF_SECONDS * 2 ** (attempt - 1), BACKOFF_MAX_SECONDS))
    raise AssertionError("unreachable")  # pragma: no cover
