"""
Defaults and validation of ValidatingWebhookConfigurations and
MutatingWebhookConfigurations.

Each webhook gets the defaults of ``admissionregistration.k8s.io/v1``: ``failurePolicy:
Fail``, ``matchPolicy: Equivalent``, empty ``namespaceSelector`` and ``objectSelector``,
``timeoutSeconds: 10``, ``scope: "*"`` in each rule and port 443 for a service. Validation
covers what the dispatcher relies on, with kube-apiserver's messages: unique qualified
names, ``sideEffects`` and ``admissionReviewVersions`` required, exactly one of
``clientConfig.url`` and ``clientConfig.service``, an ``https`` URL, ``timeoutSeconds``
between 1 and 30, and the enumerated fields.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from typing import Any

from serverops.apiserver import errors, metadata
from serverops.apiserver.errors import FieldError
from serverops.apiserver.resources import Object, Strategy

_FAILURE_POLICIES = ["Fail", "Ignore"]
_MATCH_POLICIES = ["Exact", "Equivalent"]
_SIDE_EFFECTS = ["None", "NoneOnDryRun"]
_OPERATIONS = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"]
_SCOPES = ["*", "Cluster", "Namespaced"]


class WebhookConfigurationStrategy(Strategy):
    """Validating or mutating webhook configurations; ``mutating`` adds reinvocationPolicy."""

    def __init__(self, *, mutating: bool) -> None:
        self.mutating = mutating

    def type_problem(self, obj: Object) -> str | None:
        for webhook in obj.get("webhooks") or ():
            bundle = ((webhook or {}).get("clientConfig") or {}).get("caBundle")
            if bundle is None:
                continue
            try:
                base64.b64decode(str(bundle), validate=True)
            except (binascii.Error, ValueError):
                return "illegal base64 data in clientConfig.caBundle"
        return None

    def prepare_for_create(self, obj: Object) -> None:
        for webhook in obj.get("webhooks") or ():
            if isinstance(webhook, dict):
                self._default(webhook)

    def prepare_for_update(self, new: Object, old: Object) -> None:
        self.prepare_for_create(new)

    def _default(self, webhook: dict[str, Any]) -> None:
        webhook.setdefault("failurePolicy", "Fail")
        webhook.setdefault("matchPolicy", "Equivalent")
        webhook.setdefault("namespaceSelector", {})
        webhook.setdefault("objectSelector", {})
        webhook.setdefault("timeoutSeconds", 10)
        if self.mutating:
            webhook.setdefault("reinvocationPolicy", "Never")
        for rule in webhook.get("rules") or ():
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")
        service = (webhook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)

    def validate(self, obj: Object) -> list[FieldError]:
        problems: list[FieldError] = []
        names: set[str] = set()
        for index, webhook in enumerate(obj.get("webhooks") or ()):
            path = f"webhooks[{index}]"
            if not isinstance(webhook, dict):
                problems.append(errors.invalid(path, webhook, "must be an object"))
                continue
            name = webhook.get("name") or ""
            if not name:
                problems.append(errors.required(f"{path}.name"))
            elif name in names:
                problems.append(errors.FieldError(errors.DUPLICATE, f"{path}.name", name))
            else:
                for problem in metadata.qualified_name_problems(name):
                    problems.append(errors.invalid(f"{path}.name", name, problem))
                if "." not in name:
                    detail = "should be a domain with at least three segments separated by dots"
                    problems.append(errors.invalid(f"{path}.name", name, detail))
            names.add(name)
            problems.extend(self._validate_webhook(path, webhook))
        return problems

    def _validate_webhook(self, path: str, webhook: dict[str, Any]) -> list[FieldError]:
        problems: list[FieldError] = []
        for field, supported in (
            ("failurePolicy", _FAILURE_POLICIES),
            ("matchPolicy", _MATCH_POLICIES),
            ("sideEffects", _SIDE_EFFECTS),
        ):
            value = webhook.get(field)
            if value is None and field == "sideEffects":
                problems.append(errors.not_supported(f"{path}.{field}", "", supported))
            elif value is not None and value not in supported:
                problems.append(errors.not_supported(f"{path}.{field}", value, supported))
        if not webhook.get("admissionReviewVersions"):
            detail = "must specify one of v1, v1beta1"
            problems.append(errors.required(f"{path}.admissionReviewVersions", detail))
        timeout = webhook.get("timeoutSeconds")
        if not isinstance(timeout, int) or not 1 <= timeout <= 30:
            detail = "the timeout value must be between 1 and 30 seconds"
            problems.append(errors.invalid(f"{path}.timeoutSeconds", timeout, detail))
        problems.extend(
            _validate_client_config(f"{path}.clientConfig", webhook.get("clientConfig"))
        )
        for index, rule in enumerate(webhook.get("rules") or ()):
            problems.extend(_validate_rule(f"{path}.rules[{index}]", rule))
        return problems


def _validate_client_config(path: str, config: Any) -> list[FieldError]:
    if not isinstance(config, dict):
        return [errors.required(path, "exactly one of url or service is required")]
    url, service = config.get("url"), config.get("service")
    if bool(url) == bool(service):
        return [errors.required(path, "exactly one of url or service is required")]
    if url:
        parsed = urllib.parse.urlsplit(str(url))
        if parsed.scheme != "https":
            return [errors.invalid(f"{path}.url", url, "'https' is the only allowed URL scheme")]
        if not parsed.hostname:
            return [errors.invalid(f"{path}.url", url, "host must be specified")]
        return []
    problems = []
    if not isinstance(service, dict):
        return [errors.invalid(f"{path}.service", service, "must be an object")]
    for field in ("namespace", "name"):
        if not service.get(field):
            problems.append(
                errors.required(f"{path}.service.{field}", f"service {field} is required")
            )
    path_value = service.get("path")
    if path_value is not None and not str(path_value).startswith("/"):
        problems.append(errors.invalid(f"{path}.service.path", path_value, "must start with a '/'"))
    return problems


def _validate_rule(path: str, rule: Any) -> list[FieldError]:
    if not isinstance(rule, dict):
        return [errors.invalid(path, rule, "must be an object")]
    problems = []
    for field in ("operations", "apiGroups", "apiVersions", "resources"):
        if not rule.get(field):
            problems.append(errors.required(f"{path}.{field}"))
    for index, operation in enumerate(rule.get("operations") or ()):
        if operation not in _OPERATIONS:
            problems.append(
                errors.not_supported(f"{path}.operations[{index}]", operation, _OPERATIONS)
            )
    scope = rule.get("scope")
    if scope not in _SCOPES:
        problems.append(errors.not_supported(f"{path}.scope", scope, _SCOPES))
    return problems
