"""Who is asking and which teams they may see, answered by the Kubernetes API server.

A bearer token is checked with a TokenReview; a user may see team T when a SubjectAccessReview allows `get` on
`teammappings/costs` (group `kubecharge.io`) named T, and every team (with the unallocated, idle and shared lines
and the cluster's totals) when it allows that without a name. Platform teams grant it with the tools they already
use (`kubectl create clusterrole … --resource-name=payments`), nothing is configured in kubecharge.

Answers are kept for `REVIEW_SECONDS` (30 s): a page asks one review per team it could show, and a lead clicking
through ten pages should not cost the API server a hundred reviews; a removed RoleBinding or a revoked token stops
working within that half minute, which is as long as kubectl's own discovery cache trusts what it saw.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import kubernetes

from kubecharge.kube.client import api_error
from kubecharge.pipeline.remembered import Remembered

log = logging.getLogger("kubecharge.portal")

GROUP, RESOURCE, SUBRESOURCE, VERB = "kubecharge.io", "teammappings", "costs", "get"
REVIEW_SECONDS = 30.0


class AccessUnavailable(Exception):
    """The API server could not be asked (down, or the portal's own RBAC lacks the review permissions)."""


@dataclass(frozen=True)
class Identity:
    """Who a token belongs to, as the API server said (what a SubjectAccessReview is asked about)."""

    user: str
    groups: tuple[str, ...] = ()
    uid: str = ""


@dataclass(frozen=True)
class Viewer:
    """What one identity may see: every team (and the lines of no team), or the named ones."""

    identity: Identity
    all_teams: bool
    teams: frozenset[str] = frozenset()

    def sees(self, team: str) -> bool:
        return self.all_teams or team in self.teams


class Reviewer(Protocol):
    def authenticate(self, token: str) -> Identity | None:
        """The token's identity, or None where the API server does not accept it (forged, expired)."""
        ...

    def may_see(self, who: Identity, team: str | None) -> bool:
        """Whether `who` may see `team`'s costs (None: every team's)."""
        ...


def viewer_of(reviewer: Reviewer, who: Identity, teams: Iterable[str]) -> Viewer:
    """The viewer `who` is among `teams` (the teams there are to show): all of them, or those each allowed."""
    if reviewer.may_see(who, None):
        return Viewer(who, all_teams=True)
    return Viewer(who, all_teams=False, teams=frozenset(team for team in set(teams) if reviewer.may_see(who, team)))


class KubernetesReviewer:
    """TokenReview and SubjectAccessReview, through the standard Kubernetes client."""

    def __init__(self, api: kubernetes.client.ApiClient, seconds: float = REVIEW_SECONDS) -> None:
        self._authentication = kubernetes.client.AuthenticationV1Api(api)
        self._authorization = kubernetes.client.AuthorizationV1Api(api)
        self._tokens = Remembered(seconds)
        self._decisions = Remembered(seconds)

    def authenticate(self, token: str) -> Identity | None:
        digest = hashlib.sha256(token.encode()).hexdigest()  # the token itself is never kept nor logged
        found: Identity | None = self._tokens.get(digest, lambda: self._review_token(token))
        return found

    def _review_token(self, token: str) -> Identity | None:
        review = kubernetes.client.V1TokenReview(spec=kubernetes.client.V1TokenReviewSpec(token=token))
        try:
            answer = self._authentication.create_token_review(review)
        except (kubernetes.client.ApiException, OSError) as error:
            raise AccessUnavailable(f"the API server did not review a token: {api_error(error)}") from None
        status = answer.status
        if status is None or not status.authenticated or status.user is None or not status.user.username:
            log.info("a token was refused by the API server%s", f": {status.error}" if status and status.error else "")
            return None
        return Identity(status.user.username, tuple(status.user.groups or ()), status.user.uid or "")

    def may_see(self, who: Identity, team: str | None) -> bool:
        allowed: bool = self._decisions.get((who, team), lambda: self._review_access(who, team))
        return allowed

    def _review_access(self, who: Identity, team: str | None) -> bool:
        attributes = kubernetes.client.V1ResourceAttributes(group=GROUP, resource=RESOURCE, subresource=SUBRESOURCE,
                                                            verb=VERB, name=team)  # fmt: skip
        spec = kubernetes.client.V1SubjectAccessReviewSpec(
            user=who.user, groups=list(who.groups), uid=who.uid or None, resource_attributes=attributes
        )
        try:
            answer = self._authorization.create_subject_access_review(
                kubernetes.client.V1SubjectAccessReview(spec=spec)
            )
        except (kubernetes.client.ApiException, OSError) as error:
            raise AccessUnavailable(f"the API server did not review access: {api_error(error)}") from None
        allowed = bool(answer.status is not None and answer.status.allowed)
        log.info("access review: user %s, team %s: %s", who.user, team or "(every team)",
                 "allowed" if allowed else "denied")  # fmt: skip
        return allowed


class OpenAccess:
    """`--auth none`: everyone sees everything. For a laptop only; `kubecharge serve` says so loudly."""

    def authenticate(self, token: str) -> Identity | None:
        return Identity("anonymous")

    def may_see(self, who: Identity, team: str | None) -> bool:
        return True
