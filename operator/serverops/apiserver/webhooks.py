"""
Which admission webhooks a write must be sent to.

For each webhook of every Validating- or MutatingWebhookConfiguration, :func:`matching`
applies the checks of kube-apiserver's ``ShouldCallHook`` in its order. The
``namespaceSelector`` is matched against the labels of the object's namespace, or of
the Namespace object itself, and a cluster-scoped object other than a Namespace always
matches it. The ``objectSelector`` is matched against the labels of the new or the old
object. Then come the ``rules``. A rule matches on operations, API groups, API versions, scope and
resources, where ``*`` is every resource without subresources, ``*/*`` every resource
and subresource, ``servers/*`` every subresource of servers and ``*/status`` the status
of every resource. With ``matchPolicy: Equivalent`` (the default), a request also
matches through another served version of the same resource, and the webhook receives
the object in that version.

Writes of ValidatingWebhookConfigurations and MutatingWebhookConfigurations are never
sent to webhooks, so that a broken webhook cannot lock its own configuration, as in
kube-apiserver.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from serverops.apiserver import admission, catalog, selectors
from serverops.apiserver.resources import Object, ResourceType

logger = logging.getLogger(__name__)

ADMISSION_GROUP = "admissionregistration.k8s.io"
_EXEMPT = {
    (ADMISSION_GROUP, "validatingwebhookconfigurations"),
    (ADMISSION_GROUP, "mutatingwebhookconfigurations"),
}


@dataclasses.dataclass(frozen=True)
class Invocation:
    """One webhook to call for a write, and the version of the resource it receives."""

    configuration: str
    webhook: Mapping[str, Any]
    rtype: ResourceType

    @property
    def name(self) -> str:
        return str(self.webhook.get("name", ""))


def label_selector(selector: Mapping[str, Any] | None) -> selectors.LabelSelector:
    """Convert a ``metav1.LabelSelector`` (matchLabels, matchExpressions) to a matcher."""
    requirements: list[selectors.Requirement] = []
    selector = selector or {}
    for key, value in sorted((selector.get("matchLabels") or {}).items()):
        requirements.append(selectors.Requirement(key, "=", frozenset([str(value)])))
    operators = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expression in selector.get("matchExpressions") or ():
        operator = operators.get(expression.get("operator", ""))
        if operator is None:
            # NOTE: configurations are not checked for selector operators, so a typo
            # lands here; the requirement is skipped, which widens the selector.
            logger.warning(
                f"Skipping a label selector requirement with unknown operator: {expression}."
            )
            continue
        values = frozenset(str(value) for value in expression.get("values") or ())
        requirements.append(selectors.Requirement(expression.get("key", ""), operator, values))
    return selectors.LabelSelector(tuple(requirements))


def _labels(obj: Object | None) -> Mapping[str, str] | None:
    if obj is None:
        return None
    return obj.get("metadata", {}).get("labels") or {}


def _namespace_matches(
    webhook: Mapping[str, Any],
    attributes: admission.Attributes,
    namespace_labels: Callable[[str], Mapping[str, str] | None],
) -> bool:
    rtype = attributes.resource
    is_namespace = rtype.key == ("", "namespaces")
    if not attributes.namespace and not is_namespace:
        return True
    selector = label_selector(webhook.get("namespaceSelector"))
    if selector.empty:
        return True
    if is_namespace:
        labels = _labels(attributes.object) or _labels(attributes.old_object) or {}
    else:
        labels = namespace_labels(attributes.namespace) or {}
    return selector.matches(labels)


def _object_matches(webhook: Mapping[str, Any], attributes: admission.Attributes) -> bool:
    selector = label_selector(webhook.get("objectSelector"))
    if selector.empty:
        return True
    return any(
        labels is not None and selector.matches(labels)
        for labels in (_labels(attributes.object), _labels(attributes.old_object))
    )


def _listed(values: Iterable[str] | None, value: str) -> bool:
    return any(item in ("*", value) for item in values or ())


def _resource_listed(resources: Iterable[str] | None, plural: str, subresource: str) -> bool:
    for item in resources or ():
        resource, _, sub = item.partition("/")
        if resource in ("*", plural) and sub in ("*", subresource):
            return True
    return False


def rule_matches(
    rule: Mapping[str, Any], attributes: admission.Attributes, rtype: ResourceType
) -> bool:
    """Match one ``RuleWithOperations`` against a write to ``rtype``."""
    scope = rule.get("scope") or "*"
    is_namespace = rtype.key == ("", "namespaces")
    if scope == "Namespaced" and (is_namespace or not attributes.namespace):
        return False
    if scope == "Cluster" and not (is_namespace or not attributes.namespace):
        return False
    return (
        _listed(rule.get("operations"), attributes.operation)
        and _listed(rule.get("apiGroups"), rtype.group)
        and _listed(rule.get("apiVersions"), rtype.version)
        and _resource_listed(rule.get("resources"), rtype.plural, attributes.subresource)
    )


def _equivalents(served: catalog.Catalog, rtype: ResourceType) -> list[ResourceType]:
    """Other served versions of the same stored resource, preferred versions first."""
    same = [other for other in served.all() if other.key == rtype.key and other is not rtype]
    return sorted(same, key=lambda other: catalog.version_priority(other.version))


def _invocation(
    configuration: str,
    webhook: Mapping[str, Any],
    attributes: admission.Attributes,
    served: catalog.Catalog,
) -> Invocation | None:
    rules = [rule for rule in webhook.get("rules") or () if isinstance(rule, Mapping)]
    if any(rule_matches(rule, attributes, attributes.resource) for rule in rules):
        return Invocation(configuration, webhook, attributes.resource)
    if (webhook.get("matchPolicy") or "Equivalent") != "Equivalent":
        return None
    for rule in rules:
        for equivalent in _equivalents(served, attributes.resource):
            if rule_matches(rule, attributes, equivalent):
                return Invocation(configuration, webhook, equivalent)
    return None


def matching(
    configurations: Iterable[Object],
    attributes: admission.Attributes,
    *,
    served: catalog.Catalog,
    namespace_labels: Callable[[str], Mapping[str, str] | None],
) -> list[Invocation]:
    """Return the webhooks that must review a write, in configuration and webhook order."""
    if attributes.resource.key in _EXEMPT:
        return []
    result: list[Invocation] = []
    for configuration in configurations:
        name = configuration["metadata"]["name"]
        for webhook in configuration.get("webhooks") or ():
            if not isinstance(webhook, Mapping):
                continue
            if not _namespace_matches(webhook, attributes, namespace_labels):
                continue
            if not _object_matches(webhook, attributes):
                continue
            invocation = _invocation(name, webhook, attributes, served)
            if invocation is None:
                continue
            if webhook.get("matchConditions"):
                # NOTE: CEL matchConditions are not evaluated; the webhook is called as if
                # every condition were true.
                logger.warning(
                    f"The matchConditions of webhook {invocation.name!r} are not evaluated by "
                    "the local API server; calling it anyway."
                )
            result.append(invocation)
    return result
