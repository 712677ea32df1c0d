"""
Write rules of the built-in kinds that an application's chart installs: ConfigMaps,
Secrets, Services, Deployments and PodDisruptionBudgets.

No controller acts on them: a Deployment starts no pods and a Service routes nothing.
The strategies set the defaults and check the fields that kube-apiserver checks and that
a chart can get wrong:

- ConfigMap and Secret keys must be valid config keys, Secret ``data`` values must be
  base64, ``stringData`` is merged into ``data`` and not stored, and ``immutable`` objects
  keep their data;
- a Service gets ``type: ClusterIP``, TCP ports whose ``targetPort`` defaults to the
  port, and a cluster IP from 10.96.0.0/16 (an address that nothing listens on);
- a Deployment needs a selector that matches its template's labels, and gets the
  replica count, history limit, progress deadline and rolling-update defaults;
- a PodDisruptionBudget cannot set both ``minAvailable`` and ``maxUnavailable``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from typing import Any

from serverops.apiserver import errors
from serverops.apiserver.errors import FieldError
from serverops.apiserver.resources import Object, Strategy

_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_CONFIG_KEY_MESSAGE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


def _key_problems(field: str, data: Any) -> list[FieldError]:
    problems = []
    for key in data or {}:
        if len(key) > 253:
            problems.append(errors.FieldError(errors.TOO_LONG, f"{field}[{key}]", key, ""))
        elif not _CONFIG_KEY.fullmatch(key):
            problems.append(errors.invalid(f"{field}[{key}]", key, _CONFIG_KEY_MESSAGE))
    return problems


def _string_map_problem(obj: Object, kind: str, field: str) -> str | None:
    value = obj.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        return f"json: cannot unmarshal {_json_kind(value)} into Go struct field {kind}.{field}"
    for item in value.values():
        if not isinstance(item, str):
            return (
                f"json: cannot unmarshal {_json_kind(item)} into Go struct field {kind}.{field} "
                "of type string"
            )
    return None


def _json_kind(value: Any) -> str:
    names = {bool: "bool", int: "number", float: "number", list: "array", dict: "object"}
    return names.get(type(value), "string")


def _immutable_problems(new: Object, old: Object, fields: tuple[str, ...]) -> list[FieldError]:
    if not old.get("immutable"):
        return []
    problems = []
    for field in fields:
        if new.get(field) != old.get(field):
            detail = "field is immutable when `immutable` is set"
            problems.append(errors.forbidden(field, detail))
    if new.get("immutable") is not True:
        problems.append(errors.forbidden("immutable", "field is immutable when `immutable` is set"))
    return problems


class ConfigMapStrategy(Strategy):
    def type_problem(self, obj: Object) -> str | None:
        return _string_map_problem(obj, "ConfigMap", "data") or _string_map_problem(
            obj, "ConfigMap", "binaryData"
        )

    def validate(self, obj: Object) -> list[FieldError]:
        problems = _key_problems("data", obj.get("data"))
        problems += _key_problems("binaryData", obj.get("binaryData"))
        for key in set(obj.get("data") or {}) & set(obj.get("binaryData") or {}):
            detail = "duplicate of key present in binaryData"
            problems.append(errors.invalid(f"data[{key}]", key, detail))
        return problems

    def validate_update(self, new: Object, old: Object) -> list[FieldError]:
        return _immutable_problems(new, old, ("data", "binaryData"))


class SecretStrategy(Strategy):
    def type_problem(self, obj: Object) -> str | None:
        problem = _string_map_problem(obj, "Secret", "data") or _string_map_problem(
            obj, "Secret", "stringData"
        )
        if problem:
            return problem
        for value in (obj.get("data") or {}).values():
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return f"illegal base64 data at input byte {_bad_base64_offset(value)}"
        return None

    def prepare_for_create(self, obj: Object) -> None:
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
        obj.setdefault("type", "Opaque")

    def prepare_for_update(self, new: Object, old: Object) -> None:
        self.prepare_for_create(new)

    def validate(self, obj: Object) -> list[FieldError]:
        return _key_problems("data", obj.get("data"))

    def validate_update(self, new: Object, old: Object) -> list[FieldError]:
        problems = _immutable_problems(new, old, ("data",))
        if new.get("type") != old.get("type"):
            problems.append(errors.invalid("type", new.get("type"), "field is immutable"))
        return problems


def _bad_base64_offset(value: str) -> int:
    for index, char in enumerate(value):
        if not (char.isalnum() or char in "+/="):
            return index
    return len(value) - len(value) % 4 if len(value) % 4 else len(value)


class ServiceStrategy(Strategy):
    """Services: defaults and a cluster IP that only exists on paper."""

    def __init__(self) -> None:
        self._addresses = itertools.count(10)

    def prepare_for_create(self, obj: Object) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            if not spec.get("clusterIP"):
                number = next(self._addresses)
                spec["clusterIP"] = f"10.96.{number // 256 % 256}.{number % 256}"
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or ():
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "port" in port:
                    port.setdefault("targetPort", port["port"])
        obj.setdefault("status", {"loadBalancer": {}})

    def prepare_for_update(self, new: Object, old: Object) -> None:
        spec = new.setdefault("spec", {})
        old_spec = old.get("spec") or {}
        for key in ("clusterIP", "clusterIPs"):
            if key in old_spec and not spec.get(key):
                spec[key] = old_spec[key]
        self.prepare_for_create(new)

    def validate(self, obj: Object) -> list[FieldError]:
        spec = obj.get("spec") or {}
        problems: list[FieldError] = []
        headless = spec.get("clusterIP") == "None"
        if spec.get("type") != "ExternalName" and not headless and not spec.get("ports"):
            problems.append(errors.required("spec.ports"))
        for index, port in enumerate(spec.get("ports") or ()):
            number = port.get("port") if isinstance(port, dict) else None
            if not isinstance(number, int) or not 1 <= number <= 65535:
                detail = "must be between 1 and 65535, inclusive"
                problems.append(errors.invalid(f"spec.ports[{index}].port", number, detail))
        return problems

    def validate_update(self, new: Object, old: Object) -> list[FieldError]:
        new_ip = (new.get("spec") or {}).get("clusterIP")
        old_ip = (old.get("spec") or {}).get("clusterIP")
        if old_ip and new_ip != old_ip:
            return [errors.invalid("spec.clusterIPs[0]", new_ip, "may not change once set")]
        return []


class DeploymentStrategy(Strategy):
    def prepare_for_create(self, obj: Object) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")

    def prepare_for_update(self, new: Object, old: Object) -> None:
        self.prepare_for_create(new)

    def validate(self, obj: Object) -> list[FieldError]:
        spec = obj.get("spec") or {}
        selector = spec.get("selector")
        if not selector:
            return [errors.required("spec.selector")]
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        wanted = selector.get("matchLabels") or {}
        if any(labels.get(key) != value for key, value in wanted.items()):
            detail = "`selector` does not match template `labels`"
            return [errors.invalid("spec.template.metadata.labels", labels, detail)]
        return []

    def validate_update(self, new: Object, old: Object) -> list[FieldError]:
        new_selector = (new.get("spec") or {}).get("selector")
        old_selector = (old.get("spec") or {}).get("selector")
        if new_selector != old_selector:
            return [errors.invalid("spec.selector", new_selector, "field is immutable")]
        return []


class PodDisruptionBudgetStrategy(Strategy):
    def validate(self, obj: Object) -> list[FieldError]:
        spec = obj.get("spec") or {}
        if "minAvailable" in spec and "maxUnavailable" in spec:
            detail = "minAvailable and maxUnavailable cannot be both set"
            return [errors.invalid("spec", spec, detail)]
        return []
