"""
The RBAC kinds' write rules, and the default roles every cluster starts with.

The strategies default and validate Roles, ClusterRoles, RoleBindings and
ClusterRoleBindings with the rules of kube-apiserver's ``rbac`` validation: every rule
needs verbs, a resource rule needs API groups and resources, a namespaced Role cannot
name non-resource URLs, a binding's ``roleRef`` is required and cannot change, and its
subjects are Users, Groups or ServiceAccounts (a ServiceAccount subject of a
ClusterRoleBinding needs a namespace). User and Group subjects default their
``apiGroup`` to ``rbac.authorization.k8s.io``.

:func:`bootstrap_objects` returns the part of kube-apiserver's bootstrap policy that
matters here: ``cluster-admin`` bound to ``system:masters``, ``system:discovery``,
``system:basic-user`` and ``system:public-info-viewer``. The aggregated ``admin``,
``edit`` and ``view`` roles are not created.

NOTE: the escalation checks (creating a role with more permissions than the requestor
has needs the ``escalate`` verb, binding one needs ``bind``) are not implemented.
"""

from __future__ import annotations

from typing import Any

from serverops.apiserver import errors
from serverops.apiserver.authorization import RBAC_GROUP as RBAC_GROUP
from serverops.apiserver.errors import FieldError
from serverops.apiserver.resources import Object, Strategy

_BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_BOOTSTRAP_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}


def validate_rules(rules: Any, *, namespaced: bool) -> list[FieldError]:
    """Validate the ``rules`` of a Role (``namespaced``) or ClusterRole."""
    problems: list[FieldError] = []
    if rules is not None and not isinstance(rules, list):
        return [errors.invalid("rules", rules, "must be a list of policy rules")]
    for index, rule in enumerate(rules or ()):
        path = f"rules[{index}]"
        if not isinstance(rule, dict):
            problems.append(errors.invalid(path, rule, "must be an object"))
            continue
        if not rule.get("verbs"):
            problems.append(
                errors.required(f"{path}.verbs", "verbs must contain at least one value")
            )
        urls = rule.get("nonResourceURLs")
        if urls:
            if namespaced:
                detail = "namespaced rules cannot apply to non-resource URLs"
                problems.append(errors.invalid(f"{path}.nonResourceURLs", urls, detail))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                detail = "rules cannot apply to both regular resources and non-resource URLs"
                problems.append(errors.invalid(f"{path}.nonResourceURLs", urls, detail))
            continue
        if not rule.get("apiGroups"):
            detail = "resource rules must supply at least one api group"
            problems.append(errors.required(f"{path}.apiGroups", detail))
        if not rule.get("resources"):
            detail = "resource rules must supply at least one resource"
            problems.append(errors.required(f"{path}.resources", detail))
    return problems


class RoleStrategy(Strategy):
    """Roles (namespaced) and ClusterRoles: validation of their rules."""

    def __init__(self, *, namespaced: bool) -> None:
        self.namespaced = namespaced

    def validate(self, obj: Object) -> list[FieldError]:
        return validate_rules(obj.get("rules"), namespaced=self.namespaced)


class BindingStrategy(Strategy):
    """RoleBindings and ClusterRoleBindings: subject defaults, roleRef rules."""

    def __init__(self, *, namespaced: bool) -> None:
        self.namespaced = namespaced

    def prepare_for_create(self, obj: Object) -> None:
        for subject in obj.get("subjects") or ():
            if isinstance(subject, dict) and not subject.get("apiGroup"):
                if subject.get("kind") in ("User", "Group"):
                    subject["apiGroup"] = RBAC_GROUP

    def prepare_for_update(self, new: Object, old: Object) -> None:
        self.prepare_for_create(new)

    def validate(self, obj: Object) -> list[FieldError]:
        problems = self._validate_role_ref(obj.get("roleRef"))
        for index, subject in enumerate(obj.get("subjects") or ()):
            problems.extend(self._validate_subject(f"subjects[{index}]", subject))
        return problems

    def validate_update(self, new: Object, old: Object) -> list[FieldError]:
        if new.get("roleRef") != old.get("roleRef"):
            return [errors.invalid("roleRef", new.get("roleRef"), "cannot change roleRef")]
        return []

    def _validate_role_ref(self, role_ref: Any) -> list[FieldError]:
        if not isinstance(role_ref, dict):
            return [errors.required("roleRef.name")]
        problems = []
        if role_ref.get("apiGroup") != RBAC_GROUP:
            problems.append(
                errors.not_supported("roleRef.apiGroup", role_ref.get("apiGroup", ""), [RBAC_GROUP])
            )
        kinds = ["Role", "ClusterRole"] if self.namespaced else ["ClusterRole"]
        if role_ref.get("kind") not in kinds:
            problems.append(errors.not_supported("roleRef.kind", role_ref.get("kind", ""), kinds))
        if not role_ref.get("name"):
            problems.append(errors.required("roleRef.name"))
        return problems

    def _validate_subject(self, path: str, subject: Any) -> list[FieldError]:
        if not isinstance(subject, dict):
            return [errors.invalid(path, subject, "must be an object")]
        problems = []
        if not subject.get("name"):
            problems.append(errors.required(f"{path}.name"))
        kind = subject.get("kind")
        if kind == "ServiceAccount":
            if subject.get("apiGroup"):
                problems.append(errors.not_supported(f"{path}.apiGroup", subject["apiGroup"], [""]))
            if not self.namespaced and not subject.get("namespace"):
                problems.append(errors.required(f"{path}.namespace"))
        elif kind in ("User", "Group"):
            if subject.get("apiGroup") != RBAC_GROUP:
                problems.append(
                    errors.not_supported(f"{path}.apiGroup", subject.get("apiGroup"), [RBAC_GROUP])
                )
        else:
            supported = ["ServiceAccount", "User", "Group"]
            problems.append(errors.not_supported(f"{path}.kind", kind or "", supported))
        return problems


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> Object:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": dict(_BOOTSTRAP_LABELS),
            "annotations": dict(_BOOTSTRAP_ANNOTATIONS),
        },
        "rules": rules,
    }


def _binding(name: str, groups: list[str]) -> Object:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": name,
            "labels": dict(_BOOTSTRAP_LABELS),
            "annotations": dict(_BOOTSTRAP_ANNOTATIONS),
        },
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": group} for group in groups],
    }


_PUBLIC_INFO = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
_DISCOVERY = ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", *_PUBLIC_INFO]


def bootstrap_objects() -> tuple[list[Object], list[Object]]:
    """Return the default ClusterRoles and ClusterRoleBindings of a new cluster."""
    roles = [
        _cluster_role(
            "cluster-admin",
            [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        ),
        _cluster_role(
            "system:discovery", [{"nonResourceURLs": sorted(_DISCOVERY), "verbs": ["get"]}]
        ),
        _cluster_role(
            "system:public-info-viewer",
            [{"nonResourceURLs": sorted(_PUBLIC_INFO), "verbs": ["get"]}],
        ),
        _cluster_role(
            "system:basic-user",
            [
                {
                    "apiGroups": ["authorization.k8s.io"],
                    "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    "verbs": ["create"],
                },
                {
                    "apiGroups": ["authentication.k8s.io"],
                    "resources": ["selfsubjectreviews"],
                    "verbs": ["create"],
                },
            ],
        ),
    ]
    bindings = [
        _binding("cluster-admin", ["system:masters"]),
        _binding("system:discovery", ["system:authenticated"]),
        _binding("system:basic-user", ["system:authenticated"]),
        _binding("system:public-info-viewer", ["system:authenticated", "system:unauthenticated"]),
    ]
    return roles, bindings
