"""
The request context and the admission step of writes.

Every write passes through :meth:`Admission.admit` after it is decoded, defaulted and
validated and before it is stored, as in kube-apiserver's validating admission phase.
The chain starts with the namespace lifecycle rules (no new content in a missing or
terminating namespace, the system namespaces cannot be deleted). Authentication,
authorization and admission webhooks are not implemented; :class:`RequestContext`
carries the user so that they can plug in here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

from serverops.apiserver import errors
from serverops.apiserver.resources import Object, ResourceType

ADMIN = "system:admin"


@dataclasses.dataclass(frozen=True)
class UserInfo:
    """The authenticated user of a request; everyone is the cluster admin for now."""

    username: str = ADMIN
    groups: tuple[str, ...] = ("system:masters", "system:authenticated")


@dataclasses.dataclass
class RequestContext:
    """The request data that the registry needs besides the body: user, dry run, validation."""

    user: UserInfo = dataclasses.field(default_factory=UserInfo)
    user_agent: str = ""
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict, Warn or Ignore, as in kube-apiserver 1.27+
    warnings: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Attributes:
    """The write that admission plugins judge."""

    operation: str  # CREATE, UPDATE or DELETE
    resource: ResourceType
    subresource: str
    namespace: str
    name: str
    object: Object | None
    old_object: Object | None
    context: RequestContext


class AdmissionPlugin(Protocol):
    def admit(self, attributes: Attributes) -> None:
        """Raise an :class:`~serverops.apiserver.errors.APIError` to reject the write."""


IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


class NamespaceLifecycle:
    """Reject new content in missing or terminating namespaces, as kube-apiserver does."""

    def __init__(self, lookup_namespace: Callable[[str], Object | None]) -> None:
        self.lookup_namespace = lookup_namespace

    def admit(self, attributes: Attributes) -> None:
        rtype = attributes.resource
        if attributes.operation == "DELETE" and rtype.key == ("", "namespaces"):
            if attributes.name in IMMORTAL_NAMESPACES:
                raise errors.forbidden_request(
                    group="",
                    plural="namespaces",
                    name=attributes.name,
                    message="this namespace may not be deleted",
                )
            return
        if attributes.operation != "CREATE" or not rtype.namespaced:
            return
        namespace = self.lookup_namespace(attributes.namespace)
        if namespace is None:
            raise errors.not_found(group="", plural="namespaces", name=attributes.namespace)
        if namespace["metadata"].get("deletionTimestamp"):
            raise _terminating(rtype, attributes.namespace, attributes.name)


def _terminating(rtype: ResourceType, namespace: str, name: str) -> errors.APIError:
    cause = {
        "reason": "NamespaceTerminating",
        "message": f"namespace {namespace} is being terminated",
        "field": "metadata.namespace",
    }
    return errors.forbidden_request(
        group=rtype.group,
        plural=rtype.plural,
        name=name,
        message=(
            f"unable to create new content in namespace {namespace} because it is being terminated"
        ),
        causes=[cause],
    )


class Admission:
    """The ordered chain of admission plugins."""

    def __init__(self, plugins: list[AdmissionPlugin] | None = None) -> None:
        self.plugins: list[AdmissionPlugin] = list(plugins or [])

    def admit(self, **attributes: Any) -> None:
        request = Attributes(**attributes)
        for plugin in self.plugins:
            plugin.admit(request)
