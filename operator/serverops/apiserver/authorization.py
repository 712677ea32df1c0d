"""
Authorization of requests: allow-all, or RBAC evaluated as kube-apiserver does.

Every request is described by :class:`RequestAttributes`, the fields of kube-apiserver's
authorizer attributes: the user, the verb, and either the API group, resource,
subresource, namespace and name of a resource request or the path of a non-resource
request (discovery, ``/version``, ``/healthz``).

:class:`RBACAuthorizer` reads the Roles, ClusterRoles, RoleBindings and
ClusterRoleBindings from the store on every request. Members of ``system:masters`` are
allowed everything without a rule, as in kube-apiserver. Otherwise the ClusterRoleBindings
and then the RoleBindings of the request's namespace are visited, and the first rule of
a bound role that covers the request allows it. The rule matching (``*`` wildcards,
``*/status`` forms, resourceNames, non-resource URL prefixes ending in ``*``) follows
kube-apiserver's ``rbac/v1`` evaluation helpers. A binding to a missing role adds
``RBAC: role.rbac.authorization.k8s.io "x" not found`` to the 403 message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from serverops.apiserver import authentication, errors, store
from serverops.apiserver.authentication import UserInfo

RBAC_GROUP = "rbac.authorization.k8s.io"
WILDCARD = "*"


@dataclasses.dataclass(frozen=True)
class RequestAttributes:
    """The user, verb and target of a request, as kube-apiserver's authorizer sees them."""

    user: UserInfo
    verb: str
    resource_request: bool
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


class Authorizer(Protocol):
    def authorize(self, attributes: RequestAttributes) -> tuple[bool, str]:
        """Return whether the request is allowed, and a reason to add to a denial."""


class AlwaysAllow:
    """Allow every request, as the local API server does when RBAC is off."""

    def authorize(self, attributes: RequestAttributes) -> tuple[bool, str]:
        return True, ""


def verb_matches(rule: Mapping[str, Any], verb: str) -> bool:
    return any(item in (WILDCARD, verb) for item in rule.get("verbs") or ())


def group_matches(rule: Mapping[str, Any], group: str) -> bool:
    return any(item in (WILDCARD, group) for item in rule.get("apiGroups") or ())


def resource_matches(rule: Mapping[str, Any], resource: str, subresource: str) -> bool:
    """Match ``*``, the exact ``resource[/subresource]``, or ``*/subresource``."""
    combined = f"{resource}/{subresource}" if subresource else resource
    for item in rule.get("resources") or ():
        if item in (WILDCARD, combined):
            return True
        if subresource and item == f"*/{subresource}":
            return True
    return False


def name_matches(rule: Mapping[str, Any], name: str) -> bool:
    names = rule.get("resourceNames") or ()
    return not names or name in names


def url_matches(rule: Mapping[str, Any], path: str) -> bool:
    for item in rule.get("nonResourceURLs") or ():
        if item in (WILDCARD, path):
            return True
        if item.endswith(WILDCARD) and path.startswith(item.rstrip(WILDCARD)):
            return True
    return False


def rule_allows(attributes: RequestAttributes, rule: Mapping[str, Any]) -> bool:
    if not verb_matches(rule, attributes.verb):
        return False
    if not attributes.resource_request:
        return url_matches(rule, attributes.path)
    return (
        group_matches(rule, attributes.group)
        and resource_matches(rule, attributes.resource, attributes.subresource)
        and name_matches(rule, attributes.name)
    )


def subject_applies(subject: Mapping[str, Any], user: UserInfo, namespace: str) -> bool:
    """Tell whether a binding's subject is the user; service accounts default to its namespace."""
    kind = subject.get("kind")
    name = subject.get("name", "")
    if kind == "User":
        return bool(user.username == name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        account_namespace = subject.get("namespace") or namespace
        if not account_namespace:
            return False
        return user.username == f"{authentication.SERVICE_ACCOUNT_PREFIX}{account_namespace}:{name}"
    return False


class RBACAuthorizer:
    """Role-based access control over the RBAC objects in the store."""

    def __init__(self, objects: store.Store) -> None:
        self.store = objects

    def _bucket(self, plural: str, *, namespaced: bool) -> store.Bucket:
        return self.store.bucket((RBAC_GROUP, plural), namespaced=namespaced)

    def authorize(self, attributes: RequestAttributes) -> tuple[bool, str]:
        user = attributes.user
        if authentication.MASTERS in user.groups:
            return True, ""
        problems: list[str] = []
        for rules in self._rules_for(user, attributes.namespace, problems):
            if any(rule_allows(attributes, rule) for rule in rules):
                return True, ""
        return False, ("RBAC: " + aggregate(problems)) if problems else ""

    def rules_for(self, user: UserInfo, namespace: str) -> list[Mapping[str, Any]]:
        """Return every rule that applies to a user in a namespace (cluster-wide for "")."""
        return [rule for rules in self._rules_for(user, namespace, []) for rule in rules]

    def _rules_for(
        self, user: UserInfo, namespace: str, problems: list[str]
    ) -> Iterator[Sequence[Mapping[str, Any]]]:
        """Yield the rules of each role bound to the user, recording missing roles."""
        cluster_bindings = self._bucket("clusterrolebindings", namespaced=False)
        for binding in cluster_bindings.iterate(None):
            if _binds(binding, user, ""):
                yield self._role_rules(binding.get("roleRef") or {}, "", problems)
        if not namespace:
            return
        for binding in self._bucket("rolebindings", namespaced=True).iterate(namespace):
            if _binds(binding, user, namespace):
                yield self._role_rules(binding.get("roleRef") or {}, namespace, problems)

    def _role_rules(
        self, role_ref: Mapping[str, Any], namespace: str, problems: list[str]
    ) -> Sequence[Mapping[str, Any]]:
        name = str(role_ref.get("name", ""))
        if role_ref.get("kind") == "Role" and namespace:
            role = self._bucket("roles", namespaced=True).get(namespace, name)
            missing = "role"
        elif role_ref.get("kind") == "ClusterRole":
            role = self._bucket("clusterroles", namespaced=False).get("", name)
            missing = "clusterrole"
        else:
            problems.append(f"unsupported role reference kind: {role_ref.get('kind')!r}")
            return ()
        if role is None:
            problems.append(f"{missing}.{RBAC_GROUP} {errors.quote(name)} not found")
            return ()
        return [rule for rule in role.get("rules") or () if isinstance(rule, Mapping)]


def _binds(binding: Mapping[str, Any], user: UserInfo, namespace: str) -> bool:
    subjects = binding.get("subjects") or ()
    return any(
        isinstance(subject, Mapping) and subject_applies(subject, user, namespace)
        for subject in subjects
    )


def aggregate(messages: Sequence[str]) -> str:
    """Join errors as Go's ``utilerrors.NewAggregate`` prints them: ``[a, b]``, deduplicated."""
    unique = list(dict.fromkeys(messages))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def forbidden_message(attributes: RequestAttributes) -> str:
    """Build the sentence of kube-apiserver's 403, e.g. ``User "alice" cannot delete ...``."""
    user = errors.quote(attributes.user.username)
    if not attributes.resource_request:
        return f"User {user} cannot {attributes.verb} path {errors.quote(attributes.path)}"
    resource = attributes.resource
    if attributes.subresource:
        resource = f"{resource}/{attributes.subresource}"
    where = (
        f"in the namespace {errors.quote(attributes.namespace)}"
        if attributes.namespace
        else "at the cluster scope"
    )
    return (
        f"User {user} cannot {attributes.verb} resource {errors.quote(resource)} in API group "
        f"{errors.quote(attributes.group)} {where}"
    )


def forbidden(attributes: RequestAttributes, reason: str = "") -> errors.APIError:
    """Build the 403 Forbidden Status of a denied request, with the reason appended if any."""
    text = forbidden_message(attributes)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, entity)
    if reason:
        text = f"{text}: {reason}"
    details: dict[str, Any] = {}
    if attributes.resource_request and attributes.name:
        details["name"] = attributes.name
    if attributes.resource_request and attributes.group:
        details["group"] = attributes.group
    if attributes.resource_request and attributes.resource:
        details["kind"] = attributes.resource
    if not attributes.resource:
        message = f"forbidden: {text}"
    elif attributes.name:
        qualified = errors.qualified(attributes.resource, attributes.group)
        message = f"{qualified} {errors.quote(attributes.name)} is forbidden: {text}"
    else:
        message = f"{errors.qualified(attributes.resource, attributes.group)} is forbidden: {text}"
    return errors.APIError(403, "Forbidden", message, details=details)
