"""
The catalog of served resources, for routing and discovery.

Maps each group, version and plural to its :class:`ResourceType`. Built-in kinds are
registered at start; the CRD controller registers and removes custom resources as
their CRDs become Established or go away. Group versions are listed in the order of
registration, which is the order discovery shows them in.
"""

from __future__ import annotations

import collections
import re

from serverops.apiserver.resources import ResourceType

GroupVersion = tuple[str, str]


class Catalog:
    """All served resource types, indexed for routing."""

    def __init__(self) -> None:
        self.by_path: dict[tuple[str, str, str], ResourceType] = {}
        self.versions: dict[str, list[str]] = collections.defaultdict(list)
        self.generation = 0  # bumped on every change, for discovery caches

    def register(self, rtype: ResourceType) -> None:
        self.by_path[(rtype.group, rtype.version, rtype.plural)] = rtype
        versions = self.versions[rtype.group]
        if rtype.version not in versions:
            versions.append(rtype.version)
        self.generation += 1

    def unregister(self, group: str, plural: str) -> None:
        for key in [key for key in self.by_path if key[0] == group and key[2] == plural]:
            del self.by_path[key]
        used = {key[1] for key in self.by_path if key[0] == group}
        self.versions[group] = [version for version in self.versions[group] if version in used]
        if not self.versions[group]:
            del self.versions[group]
        self.generation += 1

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.by_path.get((group, version, plural))

    def resources_of(self, group: str, version: str) -> list[ResourceType]:
        return [rtype for (g, v, _), rtype in self.by_path.items() if g == group and v == version]

    def groups(self) -> list[str]:
        """Named groups (the core group excluded), in registration order."""
        return [group for group in self.versions if group]

    def has_group_version(self, group: str, version: str) -> bool:
        return version in self.versions.get(group, [])

    def preferred_version(self, group: str) -> str:
        versions = self.versions[group]
        return sorted(versions, key=version_priority)[0]

    def sorted_versions(self, group: str) -> list[str]:
        return sorted(self.versions[group], key=version_priority)

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        for (g, _, _), rtype in self.by_path.items():
            if g == group and rtype.kind == kind:
                return rtype
        return None

    def for_bucket(self, key: tuple[str, str]) -> ResourceType | None:
        """Return a served version of a stored resource, for writes by controllers."""
        group, plural = key
        for version in self.versions.get(group, []):
            rtype = self.by_path.get((group, version, plural))
            if rtype is not None:
                return rtype
        return None

    def all(self) -> list[ResourceType]:
        return list(self.by_path.values())


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Order versions as Kubernetes does: GA before beta before alpha, newer first."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0, version)
    major = int(match.group(1))
    stage = {"alpha": 2, "beta": 1}.get(match.group(2) or "", 0)
    minor = int(match.group(3) or 0)
    return (stage, -major, -minor, version)
