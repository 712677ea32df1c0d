"""
The filters every request passes before its handler: authentication, impersonation and
authorization, in the order of kube-apiserver's handler chain.

:func:`request_attributes` reads the verb, API group, resource, subresource, namespace
and name from the URL alone, as kube-apiserver's ``RequestInfoFactory`` does, so that a
request for a resource that does not exist is authorized (and possibly denied) before
it gets its 404. Paths outside ``/api/<version>/...`` and ``/apis/<group>/<version>/...``
(discovery, OpenAPI, ``/version``, health checks) are non-resource requests whose verb
is the lowercase HTTP method.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from serverops.apiserver import authentication, authorization, impersonation
from serverops.apiserver.authentication import UserInfo

USER_KEY = web.RequestKey("serverops.user", UserInfo)
_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
# Subresources of a namespace that kube-apiserver does not read as a namespaced resource.
_NAMESPACE_SUBRESOURCES = ("status", "finalize")


class Security:
    """Authentication, impersonation and authorization of one server."""

    def __init__(
        self,
        *,
        authenticator: authentication.TokenAuthenticator | None,
        authorizer: authorization.Authorizer,
    ) -> None:
        self.authenticator = authenticator
        self.authorizer = authorizer

    def identify(self, request: web.Request) -> UserInfo:
        """Return the user the request acts as.

        Raise 401 for a missing or unknown token, 403 for a denied impersonation, and
        :class:`~serverops.apiserver.impersonation.ImpersonationError` for impersonation
        headers without a user.
        """
        if self.authenticator is None:
            user = authentication.ADMIN
        else:
            user = self.authenticator.authenticate(request.headers.get("Authorization"))
        # Stored at once, so that a denied impersonation is counted under the requestor.
        request[USER_KEY] = user
        if impersonation.requested(request.headers):
            user = impersonation.impersonate(request.headers, user, self.authorizer)
            request[USER_KEY] = user
        return user

    def authorize(self, attributes: authorization.RequestAttributes) -> None:
        """Raise 403 Forbidden unless the request is allowed."""
        allowed, reason = self.authorizer.authorize(attributes)
        if not allowed:
            raise authorization.forbidden(attributes, reason)


def user_of(request: web.Request) -> UserInfo:
    """Return the user that the filters stored on a request; the admin for internal calls."""
    user: UserInfo = request.get(USER_KEY, authentication.ADMIN)
    return user


def request_attributes(
    user: UserInfo, method: str, path: str, query: Mapping[str, str]
) -> authorization.RequestAttributes:
    """Describe a request for the authorizer from its method, path and query alone."""
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return authorization.RequestAttributes(
            user=user, verb=method.lower(), resource_request=False, path=path
        )

    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    watch = query.get("watch", "") in ("true", "1")
    if method in ("GET", "HEAD"):
        if watch:
            verb = "watch"
        else:
            verb = "get" if name else "list"
    elif method == "DELETE" and not name:
        verb = "deletecollection"
    else:
        verb = _METHOD_VERBS.get(method, method.lower())
    if verb in ("list", "watch") and not name:
        name = _name_from_field_selector(query.get("fieldSelector", ""))
    return authorization.RequestAttributes(
        user=user,
        verb=verb,
        resource_request=True,
        group=group,
        version=version,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
        path=path,
    )


def _name_from_field_selector(selector: str) -> str:
    """Read ``metadata.name=<name>`` from a field selector; the authorizer uses it as the name."""
    for requirement in selector.split(","):
        for operator in ("==", "="):
            key, found, value = requirement.partition(operator)
            if found and key.strip() == "metadata.name" and "!" not in key:
                return value.strip()
    return ""
