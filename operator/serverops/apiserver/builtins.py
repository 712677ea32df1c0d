"""
Built-in kinds of the local API server.

Each entry of :func:`builtin_kinds` declares one built-in resource with its strategy,
table columns, field selectors and strategic-merge list strategies. To serve another
built-in kind, add a :class:`ResourceType` to the list, with a :class:`Strategy`
subclass when the kind has server-owned fields or rules. The strategies of the RBAC
kinds are in :mod:`~serverops.apiserver.rbac`, those of the webhook configurations in
:mod:`~serverops.apiserver.webhookconfigs` and those of ConfigMaps, Secrets, Services,
Deployments and PodDisruptionBudgets in :mod:`~serverops.apiserver.chartkinds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serverops.apiserver import (
    chartkinds,
    clock,
    errors,
    events,
    patching,
    rbac,
    webhookconfigs,
)
from serverops.apiserver.errors import FieldError
from serverops.apiserver.resources import (
    ALL_VERBS,
    METADATA_FIELD_GETTERS,
    Object,
    PrinterColumn,
    ResourceType,
    Strategy,
)

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "http://kubernetes.io/docs/user-guide/identifiers#names"
)
CREATION_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)

NAME_COLUMN = PrinterColumn(
    "Name", "string", ".metadata.name", description=NAME_DESCRIPTION, format="name"
)
AGE_COLUMN = PrinterColumn("Age", "date", ".metadata.creationTimestamp")
DEFAULT_COLUMNS = (
    NAME_COLUMN,
    PrinterColumn(
        "Created At", "date", ".metadata.creationTimestamp", description=CREATION_DESCRIPTION
    ),
)

NAMESPACE_FINALIZER = "kubernetes"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


class NamespaceStrategy(Strategy):
    """Namespaces: the ``kubernetes`` finalizer, phase Active and the name label."""

    def prepare_for_create(self, obj: Object) -> None:
        name = obj["metadata"].get("name", "")
        obj["metadata"].setdefault("labels", {})[NAMESPACE_NAME_LABEL] = name
        spec = obj.setdefault("spec", {})
        finalizers = spec.get("finalizers") or []
        if NAMESPACE_FINALIZER not in finalizers:
            finalizers = [*finalizers, NAMESPACE_FINALIZER]
        spec["finalizers"] = finalizers
        obj["status"] = {"phase": "Active"}

    def prepare_for_update(self, new: Object, old: Object) -> None:
        # spec.finalizers changes only through the finalize subresource.
        new["spec"] = {**new.get("spec", {}), "finalizers": old.get("spec", {}).get("finalizers")}
        if new["spec"]["finalizers"] is None:
            del new["spec"]["finalizers"]
        new["metadata"].setdefault("labels", {})[NAMESPACE_NAME_LABEL] = new["metadata"]["name"]

    def pending_finalization(self, obj: Object) -> bool:
        return bool((obj.get("spec") or {}).get("finalizers"))

    def prepare_for_delete(self, obj: Object) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"


class EventStrategy(Strategy):
    """Core v1 Events: the fields a real server serializes even when they are empty."""

    def prepare_for_create(self, obj: Object) -> None:
        for key in ("eventTime", "firstTimestamp", "lastTimestamp"):
            obj.setdefault(key, None)
        obj.setdefault("reportingComponent", "")
        obj.setdefault("reportingInstance", "")
        obj.setdefault("involvedObject", {})
        obj.setdefault("source", {})

    def prepare_for_update(self, new: Object, old: Object) -> None:
        self.prepare_for_create(new)

    def validate(self, obj: Object) -> list[FieldError]:
        result: list[FieldError] = []
        namespace = obj["metadata"].get("namespace", "")
        involved = obj.get("involvedObject") or {}
        involved_namespace = involved.get("namespace", "")
        if involved_namespace and namespace and involved_namespace != namespace:
            detail = "does not match event.namespace"
            result.append(errors.invalid("involvedObject.namespace", involved_namespace, detail))
        if obj.get("type") not in (None, "", "Normal", "Warning"):
            result.append(errors.not_supported("type", obj.get("type"), ["Normal", "Warning"]))
        return result


class LeaseStrategy(Strategy):
    def validate(self, obj: Object) -> list[FieldError]:
        spec = obj.get("spec") or {}
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and (not isinstance(duration, int) or duration <= 0):
            return [errors.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")]
        return []


def _since(value: Any, now: float) -> str:
    if not value:
        return "<unknown>"
    moment = clock.parse_timestamp(value).timestamp()
    return clock.format_duration(now - moment)


def _event_last_seen(obj: Mapping[str, Any], now: float) -> str:
    value = (
        obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp")
    )
    if obj.get("series"):
        value = obj["series"].get("lastObservedTime") or value
    return _since(value, now)


def _event_object(obj: Mapping[str, Any], now: float) -> str:
    involved = obj.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _event_source(obj: Mapping[str, Any], now: float) -> str:
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    host = source.get("host")
    return f"{component}, {host}" if host else component


EVENT_COLUMNS = (
    PrinterColumn("Last Seen", "string", compute=_event_last_seen),
    PrinterColumn("Type", "string", ".type"),
    PrinterColumn("Reason", "string", ".reason"),
    PrinterColumn("Object", "string", compute=_event_object),
    PrinterColumn("Subobject", "string", ".involvedObject.fieldPath", priority=1),
    PrinterColumn("Source", "string", compute=_event_source, priority=1),
    PrinterColumn("Message", "string", ".message"),
    PrinterColumn(
        "First Seen",
        "string",
        compute=lambda obj, now: _since(obj.get("firstTimestamp"), now),
        priority=1,
    ),
    PrinterColumn("Count", "integer", ".count", priority=1),
    PrinterColumn("Name", "string", ".metadata.name", priority=1, format="name"),
)


def _field(*path: str) -> Any:
    def getter(obj: Mapping[str, Any]) -> str | None:
        value: Any = obj
        for key in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return None if value is None else str(value)

    return getter


EVENT_FIELD_GETTERS = {
    **METADATA_FIELD_GETTERS,
    **{
        f"involvedObject.{key}": _field("involvedObject", key)
        for key in (
            "kind",
            "namespace",
            "name",
            "uid",
            "apiVersion",
            "resourceVersion",
            "fieldPath",
        )
    },
    **{
        f"regarding.{key}": _field("involvedObject", key)
        for key in (
            "kind",
            "namespace",
            "name",
            "uid",
            "apiVersion",
            "resourceVersion",
            "fieldPath",
        )
    },
    "reason": _field("reason"),
    "reportingComponent": _field("reportingComponent"),
    "reportingController": _field("reportingComponent"),
    "source": _field("source", "component"),
    "type": _field("type"),
}

_CONDITIONS_BY_TYPE = patching.ListStrategy(merge_key="type")


def _namespace_type() -> ResourceType:
    return ResourceType(
        group="",
        version="v1",
        plural="namespaces",
        singular="namespace",
        kind="Namespace",
        namespaced=False,
        short_names=("ns",),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        status_subresource=True,
        extra_subresources=("finalize",),
        printer_columns=(
            NAME_COLUMN,
            PrinterColumn("Status", "string", ".status.phase"),
            AGE_COLUMN,
        ),
        patch_meta={
            **patching.OBJECT_META_PATCH_META,
            "status.conditions": _CONDITIONS_BY_TYPE,
        },
        field_getters={**METADATA_FIELD_GETTERS, "status.phase": _field("status", "phase")},
        tracks_generation=False,
        name_is_label=True,
        strategy=NamespaceStrategy(),
    )


def _core_event_type() -> ResourceType:
    return ResourceType(
        group="",
        version="v1",
        plural="events",
        singular="event",
        kind="Event",
        namespaced=True,
        short_names=("ev",),
        printer_columns=EVENT_COLUMNS,
        patch_meta=patching.OBJECT_META_PATCH_META,
        field_getters=EVENT_FIELD_GETTERS,
        tracks_generation=False,
        strategy=EventStrategy(),
        object_fields=("involvedObject", "source", "series", "related"),
    )


def _events_v1_type() -> ResourceType:
    return ResourceType(
        group="events.k8s.io",
        version="v1",
        plural="events",
        singular="event",
        kind="Event",
        namespaced=True,
        short_names=("ev",),
        printer_columns=EVENT_COLUMNS,
        patch_meta=patching.OBJECT_META_PATCH_META,
        field_getters=EVENT_FIELD_GETTERS,
        tracks_generation=False,
        strategy=EventStrategy(),
        object_fields=("regarding", "deprecatedSource", "series", "related"),
        converter=events.EventsV1Converter(),
        storage=("", "events"),
    )


def _lease_type() -> ResourceType:
    return ResourceType(
        group="coordination.k8s.io",
        version="v1",
        plural="leases",
        singular="lease",
        kind="Lease",
        namespaced=True,
        printer_columns=(
            NAME_COLUMN,
            PrinterColumn("Holder", "string", ".spec.holderIdentity"),
            AGE_COLUMN,
        ),
        patch_meta=patching.OBJECT_META_PATCH_META,
        tracks_generation=False,
        strategy=LeaseStrategy(),
    )


def _count(field: str) -> Any:
    return lambda obj, now: len(obj.get(field) or {})


def _kind(
    group: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short_names: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    columns: tuple[PrinterColumn, ...] = (),
    strategy: Strategy | None = None,
    status: bool = False,
    generation: bool = False,
    merge_keys: Mapping[str, str] | None = None,
    object_fields: tuple[str, ...] = (),
    path_segment_name: bool = False,
    verbs: tuple[str, ...] = ALL_VERBS,
) -> ResourceType:
    """Declare a built-in kind of version v1 with Name, the given columns and Age."""
    patch_meta = {
        **patching.OBJECT_META_PATCH_META,
        **{path: patching.ListStrategy(key) for path, key in (merge_keys or {}).items()},
    }
    return ResourceType(
        group=group,
        version="v1",
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        short_names=short_names,
        categories=categories,
        status_subresource=status,
        printer_columns=(NAME_COLUMN, *columns, AGE_COLUMN) if columns else None,
        patch_meta=patch_meta,
        tracks_generation=generation,
        strategy=strategy or Strategy(),
        object_fields=object_fields,
        path_segment_name=path_segment_name,
        verbs=verbs,
    )


_CONTAINERS = "spec.template.spec.containers"
_POD_TEMPLATE_KEYS = {
    _CONTAINERS: "name",
    f"{_CONTAINERS}.ports": "containerPort",
    f"{_CONTAINERS}.env": "name",
    f"{_CONTAINERS}.volumeMounts": "mountPath",
    "spec.template.spec.initContainers": "name",
    "spec.template.spec.volumes": "name",
    "spec.template.spec.imagePullSecrets": "name",
}


def _rbac_kinds() -> list[ResourceType]:
    group = rbac.RBAC_GROUP
    role_column = PrinterColumn(
        "Role", "string", compute=lambda obj, now: "{kind}/{name}".format(**obj.get("roleRef", {}))
    )
    return [
        _kind(
            group,
            "roles",
            "Role",
            strategy=rbac.RoleStrategy(namespaced=True),
            path_segment_name=True,
        ),
        _kind(
            group,
            "clusterroles",
            "ClusterRole",
            namespaced=False,
            strategy=rbac.RoleStrategy(namespaced=False),
            path_segment_name=True,
        ),
        _kind(
            group,
            "rolebindings",
            "RoleBinding",
            columns=(role_column,),
            strategy=rbac.BindingStrategy(namespaced=True),
            path_segment_name=True,
            object_fields=("roleRef",),
        ),
        _kind(
            group,
            "clusterrolebindings",
            "ClusterRoleBinding",
            namespaced=False,
            columns=(role_column,),
            strategy=rbac.BindingStrategy(namespaced=False),
            path_segment_name=True,
            object_fields=("roleRef",),
        ),
    ]


def _webhook_configuration_kinds() -> list[ResourceType]:
    group = "admissionregistration.k8s.io"
    webhooks = PrinterColumn("Webhooks", "integer", compute=_count("webhooks"))
    return [
        _kind(
            group,
            plural,
            kind,
            namespaced=False,
            columns=(webhooks,),
            strategy=webhookconfigs.WebhookConfigurationStrategy(mutating=mutating),
            generation=True,
            merge_keys={"webhooks": "name"},
        )
        for plural, kind, mutating in (
            ("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False),
            ("mutatingwebhookconfigurations", "MutatingWebhookConfiguration", True),
        )
    ]


def _chart_kinds() -> tuple[list[ResourceType], dict[str, ResourceType]]:
    """ConfigMaps, Secrets, Services, ServiceAccounts, Deployments, Jobs and
    PodDisruptionBudgets: the core kinds, and the others by group."""
    kinds = [
        _kind(
            "",
            "configmaps",
            "ConfigMap",
            short_names=("cm",),
            columns=(PrinterColumn("Data", "integer", compute=_count("data")),),
            strategy=chartkinds.ConfigMapStrategy(),
        ),
        _kind(
            "",
            "secrets",
            "Secret",
            columns=(
                PrinterColumn("Type", "string", ".type"),
                PrinterColumn("Data", "integer", compute=_count("data")),
            ),
            strategy=chartkinds.SecretStrategy(),
        ),
        _kind(
            "",
            "services",
            "Service",
            short_names=("svc",),
            categories=("all",),
            columns=(
                PrinterColumn("Type", "string", ".spec.type"),
                PrinterColumn("Cluster-IP", "string", ".spec.clusterIP"),
            ),
            strategy=chartkinds.ServiceStrategy(),
            status=True,
            merge_keys={"spec.ports": "port"},
            object_fields=("spec", "status"),
        ),
        _kind("", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
        _kind(
            "apps",
            "deployments",
            "Deployment",
            short_names=("deploy",),
            categories=("all",),
            columns=(PrinterColumn("Replicas", "integer", ".spec.replicas"),),
            strategy=chartkinds.DeploymentStrategy(),
            status=True,
            generation=True,
            merge_keys=_POD_TEMPLATE_KEYS,
            object_fields=("spec", "status"),
        ),
        _kind(
            "batch",
            "jobs",
            "Job",
            categories=("all",),
            status=True,
            generation=True,
            merge_keys=_POD_TEMPLATE_KEYS,
            object_fields=("spec", "status"),
        ),
        _kind(
            "policy",
            "poddisruptionbudgets",
            "PodDisruptionBudget",
            short_names=("pdb",),
            strategy=chartkinds.PodDisruptionBudgetStrategy(),
            status=True,
            generation=True,
            object_fields=("spec", "status"),
        ),
    ]
    return [kind for kind in kinds if not kind.group], {k.group: k for k in kinds if k.group}


def builtin_kinds() -> list[ResourceType]:
    """Return fresh resource types of every built-in kind except CRDs."""
    # Discovery lists the groups in this order, close to kube-apiserver's.
    core, grouped = _chart_kinds()
    return [
        _namespace_type(),
        _core_event_type(),
        *core,
        grouped["apps"],
        _events_v1_type(),
        grouped["batch"],
        grouped["policy"],
        _kind(
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            "SelfSubjectAccessReview",
            namespaced=False,
            verbs=("create",),
        ),
        *_rbac_kinds(),
        *_webhook_configuration_kinds(),
        _lease_type(),
    ]


DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
