"""The check before uninstalling: objects that still wait on the operator's finalizer.

Removing the operator while a Server or DeletedServer carries its finalizer leaves that
object Terminating for good, and its ports unfreed. A Helm pre-delete hook runs
``serverops check-uninstall`` so that such an uninstall fails fast and says why.
"""

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from serverops import constants, kubeapi


async def held_objects() -> list[str]:
    """Return ``kind namespace/name`` of every object that carries the operator's finalizer."""
    api_client = await kubeapi.connect()
    try:
        api = client.CustomObjectsApi(api_client)
        found: list[str] = []
        for plural, kind in (
            (constants.SERVERS, "Server"),
            (constants.DELETED_SERVERS, "DeletedServer"),
        ):
            try:
                listed = await api.list_cluster_custom_object(
                    constants.GROUP, constants.VERSION, plural
                )
            except ApiException as error:
                if error.status == 404:
                    continue  # the CRD is not installed: nothing of this kind can be held
                raise
            for item in listed.get("items", []):
                metadata = item.get("metadata", {})
                if constants.FINALIZER in (metadata.get("finalizers") or []):
                    state = " (Terminating)" if metadata.get("deletionTimestamp") else ""
                    found.append(
                        f"{kind} {metadata.get('namespace')}/{metadata.get('name')}{state}"
                    )
        return sorted(found)
    finally:
        await api_client.close()
