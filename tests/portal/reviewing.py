"""The Kubernetes emulator answering TokenReviews and SubjectAccessReviews from tables a test writes, as the API
server answers them from its authenticators and RBAC: a token names a user and groups; a rule lets a user or a
group `get` `teammappings/costs` in group kubecharge.io, for one name or (None) every name."""

from __future__ import annotations

from typing import Any

import aiohttp.web
import attrs
from kmock._internal import enums, rendering

from tests.operator.emulator import ClusterEmulator


@attrs.define(kw_only=True)
class ReviewingEmulator(ClusterEmulator):
    tokens: dict[str, tuple[str, tuple[str, ...]]] = attrs.field(factory=dict, init=False)  # token → user, groups
    expired: set[str] = attrs.field(factory=set, init=False)  # tokens once valid, now past their expiry
    rules: set[tuple[str, str | None]] = attrs.field(factory=set, init=False)  # (user or group:NAME, team or None)
    reviews: list[dict[str, Any]] = attrs.field(factory=list, init=False)  # every review asked, as sent

    async def _handle(self, request: rendering.Request) -> Any:
        plural = str(request.resource.plural) if request.resource is not None else ""
        if request.action == enums.action.CREATE and plural in {"tokenreviews", "subjectaccessreviews"}:
            body: dict[str, Any] = request.data if isinstance(request.data, dict) else {}
            self.reviews.append(body)
            status = self._token(body) if plural == "tokenreviews" else self._access(body)
            return aiohttp.web.json_response({**body, "status": status}, status=201)
        return await super()._handle(request)

    def _token(self, body: dict[str, Any]) -> dict[str, Any]:
        token = str((body.get("spec") or {}).get("token", ""))
        if token in self.expired:
            return {"authenticated": False, "error": "[invalid bearer token, service account token has expired]"}
        found = self.tokens.get(token)
        if found is None:
            return {"authenticated": False, "error": "invalid bearer token"}
        user, groups = found
        return {"authenticated": True, "user": {"username": user, "groups": list(groups), "uid": f"uid-{user}"}}

    def _access(self, body: dict[str, Any]) -> dict[str, Any]:
        spec = body.get("spec") or {}
        asked = spec.get("resourceAttributes") or {}
        if (asked.get("group"), asked.get("resource"), asked.get("subresource"), asked.get("verb")) != (
            "kubecharge.io", "teammappings", "costs", "get"):  # fmt: skip
            return {"allowed": False}
        subjects = {spec.get("user")} | {f"group:{group}" for group in spec.get("groups") or ()}
        name = asked.get("name")
        allowed = any(subject in subjects and (team is None or team == name) for subject, team in self.rules)
        return {"allowed": allowed}
