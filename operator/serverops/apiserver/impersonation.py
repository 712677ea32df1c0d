"""
Impersonation: ``Impersonate-User``, ``-Group``, ``-Uid`` and ``-Extra-*`` headers.

kubectl sends them for ``--as``, ``--as-group`` and ``--as-uid``. As in kube-apiserver's
impersonation filter, each requested value is authorized as the verb ``impersonate`` on
its own resource: ``users``, ``groups`` and ``serviceaccounts`` (a user name of the form
``system:serviceaccount:<ns>:<name>``, namespaced) in the core group, and ``uids`` and
``userextras/<key>`` in ``authentication.k8s.io``. The first denial is a 403 such as
``users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API group
"" at the cluster scope``.

The impersonated user gets ``system:authenticated`` unless the requested groups contain
it or ``system:unauthenticated``; a service account without requested groups gets its
fixed groups. Groups, uid or extras without a user get a 500 with a plain-text body, as
kube-apiserver returns them.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from multidict import CIMultiDictProxy

from serverops.apiserver import authentication, authorization, errors
from serverops.apiserver.authentication import UserInfo

USER_HEADER = "Impersonate-User"
GROUP_HEADER = "Impersonate-Group"
UID_HEADER = "Impersonate-Uid"
EXTRA_PREFIX = "Impersonate-Extra-"
AUTHENTICATION_GROUP = "authentication.k8s.io"


class ImpersonationError(Exception):
    """Impersonation headers that name no user, which kube-apiserver rejects with a 500."""


def requested(headers: CIMultiDictProxy[str] | Mapping[str, Any]) -> bool:
    """Tell whether a request carries any impersonation header."""
    return any(_is_impersonation(name) for name in headers)


def _is_impersonation(name: str) -> bool:
    lowered = name.lower()
    return lowered in (USER_HEADER.lower(), GROUP_HEADER.lower(), UID_HEADER.lower()) or (
        lowered.startswith(EXTRA_PREFIX.lower())
    )


def impersonate(
    headers: CIMultiDictProxy[str],
    requestor: UserInfo,
    authorizer: authorization.Authorizer,
) -> UserInfo:
    """Return the user to act as; raise 403 when the requestor may not impersonate it."""
    username = headers.get(USER_HEADER, "")
    groups = [value for value in headers.getall(GROUP_HEADER, [])]
    uid = headers.get(UID_HEADER, "")
    extra: dict[str, list[str]] = {}
    for name, value in headers.items():
        if name.lower().startswith(EXTRA_PREFIX.lower()):
            key = urllib.parse.unquote(name[len(EXTRA_PREFIX) :].lower())
            extra.setdefault(key, []).append(value)
    if not username:
        raise ImpersonationError(
            f"requested {_describe(groups, uid, extra)} without impersonating a user"
        )

    checks: list[authorization.RequestAttributes] = []
    account = authentication.split_service_account(username)
    if account is not None:
        checks.append(_check(requestor, "serviceaccounts", name=account[1], namespace=account[0]))
    else:
        checks.append(_check(requestor, "users", name=username))
    checks.extend(_check(requestor, "groups", name=group) for group in groups)
    for key, values in extra.items():
        checks.extend(
            _check(requestor, "userextras", name=value, group=AUTHENTICATION_GROUP, subresource=key)
            for value in values
        )
    if uid:
        checks.append(_check(requestor, "uids", name=uid, group=AUTHENTICATION_GROUP))
    for attributes in checks:
        allowed, reason = authorizer.authorize(attributes)
        if not allowed:
            raise authorization.forbidden(attributes, reason)

    if account is not None and not groups:
        groups = list(authentication.service_account(*account).groups)
    if username == authentication.ANONYMOUS:
        if authentication.UNAUTHENTICATED not in groups:
            groups.append(authentication.UNAUTHENTICATED)
    elif not {authentication.AUTHENTICATED, authentication.UNAUTHENTICATED} & set(groups):
        groups.append(authentication.AUTHENTICATED)
    return UserInfo(
        username=username,
        groups=tuple(groups),
        uid=uid,
        extra={key: tuple(values) for key, values in extra.items()},
    )


def _check(
    requestor: UserInfo,
    resource: str,
    *,
    name: str,
    namespace: str = "",
    group: str = "",
    subresource: str = "",
) -> authorization.RequestAttributes:
    return authorization.RequestAttributes(
        user=requestor,
        verb="impersonate",
        resource_request=True,
        group=group,
        version="v1",
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
    )


def _describe(groups: list[str], uid: str, extra: Mapping[str, list[str]]) -> str:
    """Print the requests as Go prints a slice of ObjectReference structs (``%v``)."""
    references = [_reference("Group", name, "") for name in groups]
    for key, values in extra.items():
        references.extend(
            _reference("UserExtra", value, "authentication.k8s.io/v1", field_path=key)
            for value in values
        )
    if uid:
        references.append(_reference("UID", uid, "authentication.k8s.io/v1"))
    return "[" + " ".join(references) + "]"


def _reference(kind: str, name: str, api_version: str, *, field_path: str = "") -> str:
    # ObjectReference's fields in order: Kind Namespace Name UID APIVersion
    # ResourceVersion FieldPath.
    return "{" + " ".join([kind, "", name, "", api_version, "", field_path]) + "}"


def internal_error_text(request_uri: str, error: ImpersonationError) -> str:
    """Build the plain-text body of kube-apiserver's ``responsewriters.InternalError``."""
    text = f"Internal Server Error: {errors.quote(request_uri)}: {error}"
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, entity)
    return text
