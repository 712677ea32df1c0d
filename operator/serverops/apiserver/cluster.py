"""
The cluster state behind the HTTP layer: store, served resources, registry, controllers.

:class:`Cluster` wires the parts together without any HTTP: the store and its
resourceVersion counter, the catalog of served resources (built-in kinds, then CRDs as
they become Established), the registry with its admission chain, and the CRD, garbage
collection and namespace controllers. It creates the default namespaces and the
default RBAC roles and bindings on start.
"""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from serverops.apiserver import (
    admission,
    builtins,
    catalog,
    clock,
    controllers,
    crds,
    errors,
    garbage,
    namespaces,
    rbac,
    registry,
    store,
    webhooks,
)
from serverops.apiserver.resources import Object, ResourceType


class Cluster:
    """Everything a kube-apiserver and its controllers keep, in memory."""

    def __init__(self, *, clock_: clock.Clock | None = None, watch_window: int = 10_000) -> None:
        self.clock = clock_ or clock.SystemClock()
        self.store = store.Store(window_size=watch_window)
        self.catalog = catalog.Catalog()
        kinds = builtins.builtin_kinds()
        self.namespace_type = kinds[0]
        self.crd_type = crds.crd_type()
        for rtype in [*kinds, self.crd_type]:
            self.catalog.register(rtype)
        self.admission = admission.Admission(
            [
                admission.NamespaceLifecycle(lambda name: self.namespace(name)),
                admission.WebhookGate(self.matching_webhooks),
            ],
            mutation=admission.MutationGate(self.matching_mutating_webhooks),
        )
        self.registry = registry.Registry(
            store=self.store, clock=self.clock, admission=self.admission
        )
        self.controllers: list[controllers.Controller] = [
            crds.CRDController(self.registry, self.catalog),
            garbage.GarbageCollector(self.registry, self.catalog),
            namespaces.NamespaceController(self.registry, self.catalog, self.namespace_type),
        ]
        for controller in self.controllers:
            self.store.listeners.append(controller.observe)
        self.context = admission.RequestContext(user_agent="serverops-apiserver")
        for name in builtins.DEFAULT_NAMESPACES:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            self.registry.create(self.namespace_type, "", body, self.context)
        self._create_default_rbac()

    def _create_default_rbac(self) -> None:
        roles, bindings = rbac.bootstrap_objects()
        role_type = self.lookup(rbac.RBAC_GROUP, "v1", "clusterroles")
        binding_type = self.lookup(rbac.RBAC_GROUP, "v1", "clusterrolebindings")
        for role in roles:
            self.registry.create(role_type, "", role, self.context)
        for binding in bindings:
            self.registry.create(binding_type, "", binding, self.context)

    def matching_webhooks(self, attributes: admission.Attributes) -> Sequence[webhooks.Invocation]:
        """Return the validating webhooks that must review a write."""
        return self._matching("validatingwebhookconfigurations", attributes)

    def matching_mutating_webhooks(
        self, attributes: admission.Attributes
    ) -> Sequence[webhooks.Invocation]:
        """Return the mutating webhooks for a write, in the order of configuration names."""
        return self._matching("mutatingwebhookconfigurations", attributes)

    def _matching(
        self, plural: str, attributes: admission.Attributes
    ) -> Sequence[webhooks.Invocation]:
        configurations = self.store.bucket((webhooks.ADMISSION_GROUP, plural), namespaced=False)
        if not configurations.count():
            return []
        # iterate() yields by name, the order in which kube-apiserver calls mutating webhooks.
        return webhooks.matching(
            configurations.iterate(None),
            attributes,
            served=self.catalog,
            namespace_labels=self._namespace_labels,
        )

    def _namespace_labels(self, name: str) -> Mapping[str, str] | None:
        namespace = self.namespace(name)
        return None if namespace is None else namespace["metadata"].get("labels") or {}

    def namespace(self, name: str) -> Object | None:
        return self.registry.bucket(self.namespace_type).get("", name)

    def start(self) -> None:
        for controller in self.controllers:
            controller.start()

    async def stop(self) -> None:
        for controller in self.controllers:
            await controller.stop()

    async def settle(self, *, timeout: float = 10.0) -> None:
        """Wait until every controller has processed everything queued so far."""
        async with asyncio.timeout(timeout):
            while not all(controller.idle for controller in self.controllers):
                await asyncio.sleep(0.001)

    def apply_crd(self, body: dict[str, Any]) -> Object:
        """Create a CRD or replace the spec of an existing one."""
        name = (body.get("metadata") or {}).get("name", "")
        existing = self.registry.bucket(self.crd_type).get("", name)
        if existing is None:
            return self.registry.create(self.crd_type, "", body, self.context)
        replacement = {**existing, "spec": body.get("spec", {})}
        return self.registry.update(self.crd_type, "", name, replacement, self.context)

    async def apply_crd_files(
        self, paths: Iterable[str | pathlib.Path], *, timeout: float = 10.0
    ) -> None:
        """Apply every CRD in the YAML files and wait until all of them are Established."""
        names = []
        for path in paths:
            for document in yaml.safe_load_all(pathlib.Path(path).read_text()):
                if not document:
                    continue
                if document.get("kind") != "CustomResourceDefinition":
                    raise ValueError(
                        f"{path} contains a {document.get('kind')}, not a CustomResourceDefinition"
                    )
                names.append(self.apply_crd(document)["metadata"]["name"])
        async with asyncio.timeout(timeout):
            while not all(self.established(name) for name in names):
                await asyncio.sleep(0.001)

    def established(self, name: str) -> bool:
        crd = self.registry.bucket(self.crd_type).get("", name)
        if crd is None:
            return False
        conditions = (crd.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType:
        rtype = self.catalog.lookup(group, version, plural)
        if rtype is None:
            raise errors.path_not_found(f"{group}/{version}/{plural}")
        return rtype
