"""
The request context and the admission step of writes.

Every write passes through :meth:`Admission.admit` after it is decoded, defaulted and
validated and before it is stored, as in kube-apiserver's validating admission phase.
The chain starts with the namespace lifecycle rules (no new content in a missing or
terminating namespace, the system namespaces cannot be deleted) and ends with the
validating admission webhooks. Before validation, :meth:`Admission.mutate` runs the
mutating admission webhooks, whose patches change the object that is then validated.

The registry is synchronous, but webhooks are HTTP calls. So :class:`WebhookGate`
raises :class:`WebhooksPending` with the write's attributes when webhooks match a write
they have not yet admitted (or, for mutating webhooks, not yet patched). The HTTP layer
calls the webhooks, records the admitted write (or the patched object) in the
:class:`RequestContext`, and runs the write again. If the object changed
in between, the retried write differs from the admitted one and goes to the webhooks
again, as kube-apiserver calls them again when an update meets a conflict.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from serverops.apiserver import errors
from serverops.apiserver.authentication import ADMIN, UserInfo
from serverops.apiserver.resources import Object, ResourceType

if TYPE_CHECKING:
    from serverops.apiserver.webhooks import Invocation

__all__ = ["ADMIN", "UserInfo"]


@dataclasses.dataclass
class RequestContext:
    """The request data that the registry needs besides the body: user, dry run, validation."""

    user: UserInfo = ADMIN
    user_agent: str = ""
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict, Warn or Ignore, as in kube-apiserver 1.27+
    warnings: list[str] = dataclasses.field(default_factory=list)
    # Admission webhooks are called only for requests of clients; the built-in
    # controllers' writes skip them.
    webhooks: bool = False
    # The request's CreateOptions, UpdateOptions or DeleteOptions fields, for reviews.
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Digests of the writes that the webhooks allowed, and their warnings.
    admitted: set[str] = dataclasses.field(default_factory=set)
    # The objects as the mutating webhooks patched them, by the digest of the write.
    mutated: dict[str, Object] = dataclasses.field(default_factory=dict)
    admission_warnings: list[str] = dataclasses.field(default_factory=list)
    # The uid, name and creation time given to a created object, kept across retries so
    # that the stored object is the one the webhooks saw.
    created_identity: dict[str, str] = dataclasses.field(default_factory=dict)
    # Raises 403 unless the user may create the object; an apply patch that creates the
    # object needs this besides the patch permission.
    authorize_create: Callable[[], None] | None = None


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

    def digest(self) -> str:
        """Identify the write for the record of admitted writes."""
        data = [
            self.operation,
            self.resource.group,
            self.resource.plural,
            self.subresource,
            self.namespace,
            self.name,
            self.object,
            self.old_object,
        ]
        return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


class WebhooksPending(Exception):
    """A write that webhooks must review before it can be stored."""

    def __init__(
        self, attributes: Attributes, invocations: Sequence[Invocation], *, mutating: bool = False
    ) -> None:
        kind = "mutating" if mutating else "validating"
        super().__init__(f"{len(invocations)} {kind} webhooks must review this write")
        self.attributes = attributes
        self.invocations = list(invocations)
        self.mutating = mutating
        self.digest = attributes.digest()


class WebhookGate:
    """Stop a write that matching webhooks have not admitted yet (see the module doc)."""

    def __init__(self, match: Callable[[Attributes], Sequence[Invocation]]) -> None:
        self.match = match

    def admit(self, attributes: Attributes) -> None:
        if not attributes.context.webhooks:
            return
        invocations = self.match(attributes)
        if invocations and attributes.digest() not in attributes.context.admitted:
            raise WebhooksPending(attributes, invocations)


class MutationGate:
    """Stop a write until the matching mutating webhooks have patched its object."""

    def __init__(self, match: Callable[[Attributes], Sequence[Invocation]]) -> None:
        self.match = match

    def mutate(self, attributes: Attributes) -> Object | None:
        """Return the patched object, None when no webhook applies, or raise WebhooksPending."""
        context = attributes.context
        if not context.webhooks:
            return None
        invocations = self.match(attributes)
        if not invocations:
            return None
        patched = context.mutated.get(attributes.digest())
        if patched is None:
            raise WebhooksPending(attributes, invocations, mutating=True)
        return patched


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

    def __init__(
        self, plugins: list[AdmissionPlugin] | None = None, *, mutation: MutationGate | None = None
    ) -> None:
        self.plugins: list[AdmissionPlugin] = list(plugins or [])
        self.mutation = mutation

    def mutate(self, **attributes: Any) -> Object | None:
        """Return the object as the mutating webhooks patched it; None when none applies."""
        if self.mutation is None:
            return None
        return self.mutation.mutate(Attributes(**attributes))

    def admit(self, **attributes: Any) -> None:
        request = Attributes(**attributes)
        for plugin in self.plugins:
            plugin.admit(request)
