"""In-memory lookup tables of ports and servers, kept current by the operator's watches.

kopf's own indexes would do the same job, but in kopf 1.45 every object's handler waits
for all indexes to fill, and each object's arrival wakes every waiting handler: start-up
time grows with the square of the number of objects (measured in docs/benchmarks.md:
99 s for 1,000 servers, an estimated 3 hours for 10,000). These tables are filled once by
a list of every kind when the operator starts, before kopf runs any handler, and then by
kopf's watch events, so a handler never acts on a partial picture and start-up stays
linear.

An :class:`ObjectIndex` keeps, for each key, the values of the objects filed under it, as
a key function returns them for each object.
"""

import fnmatch
import logging
from collections.abc import Callable, Collection, Iterator
from typing import Any, Generic, TypeVar, cast

import kopf
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from serverops import constants

logger = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


class ObjectIndex(Generic[K, V]):
    """Values of objects under the keys their key function gives, kept per object uid."""

    def __init__(self, keys: Callable[[kopf.Body], dict[K, V]]) -> None:
        self._keys = keys
        self._by_key: dict[K, dict[str, V]] = {}
        self._of_object: dict[str, list[K]] = {}

    def update(self, body: kopf.Body) -> None:
        """File the object under its keys now, and under none of its earlier ones."""
        uid = str(body.metadata.uid)
        self.remove(uid)
        filed = self._keys(body)
        for key, value in filed.items():
            self._by_key.setdefault(key, {})[uid] = value
        if filed:
            self._of_object[uid] = list(filed)

    def remove(self, uid: str) -> None:
        for key in self._of_object.pop(uid, []):
            values = self._by_key.get(key)
            if values is not None:
                values.pop(uid, None)
                if not values:
                    del self._by_key[key]

    def get(self, key: K, default: Collection[V] = ()) -> Collection[V]:
        values = self._by_key.get(key)
        return list(values.values()) if values else default

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def items(self) -> Iterator[tuple[K, Collection[V]]]:
        for key, values in list(self._by_key.items()):
            yield key, list(values.values())


class Kind:
    """The indexes fed by the objects of one plural."""

    def __init__(self, plural: str, indexes: Collection[ObjectIndex[Any, Any]]) -> None:
        self.plural = plural
        self.indexes = list(indexes)

    def update(self, body: kopf.Body) -> None:
        for index in self.indexes:
            index.update(body)

    def remove(self, uid: str) -> None:
        for index in self.indexes:
            index.remove(uid)


async def prefill(
    api_client: client.ApiClient, kinds: Collection[Kind], *, namespaces: Collection[str]
) -> None:
    """Fill the indexes from one list of each kind, before kopf runs any handler.

    ``namespaces`` are the operator's namespace patterns (globs); empty means all.
    """
    api = client.CustomObjectsApi(api_client)
    for kind in kinds:
        try:
            listed = await api.list_cluster_custom_object(
                constants.GROUP, constants.VERSION, kind.plural
            )
        except ApiException as error:
            if error.status == 403:
                logger.error(
                    f"Failed to list {kind.plural}: forbidden. The operator needs get, list and "
                    f"watch on {kind.plural}.{constants.GROUP} (see manifests/rbac)."
                )
            if error.status != 404:
                raise
            # The CRD is not installed (yet); its watch fills the table if it comes.
            logger.warning(f"No {kind.plural} are served by the API; their table starts empty.")
            continue
        items = listed.get("items", [])
        for item in items:
            namespace = str(item.get("metadata", {}).get("namespace", ""))
            if namespaces and not any(
                fnmatch.fnmatch(namespace, pattern) for pattern in namespaces
            ):
                continue
            kind.update(kopf.Body(cast(kopf.RawBody, item)))
        logger.info(f"Listed {len(items)} {kind.plural} to start from.")
