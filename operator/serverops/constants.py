"""Names the operator shares with the cluster: API group, kinds, finalizer, labels, reasons.

Every module takes these names from here, so a rename happens in one place.
"""

from typing import Final

GROUP: Final = "compute.serverops.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

SERVERS: Final = "servers"
PORTS: Final = "ports"
DELETED_SERVERS: Final = "deletedservers"

# The operator's own finalizer on every Server, never kopf's default marker, so that a
# stuck object tells the reader which controller holds it.
FINALIZER: Final = f"{GROUP}/cleanup"

# Labels on the ports the operator creates for a server. A created port has no
# ownerReference to its server on purpose: in a foreground deletion the garbage collector
# deletes dependents at once, even while the owner still holds a finalizer, so an owner
# reference would let Kubernetes delete the ports of a locked server.
LABEL_SERVER_UID: Final = f"{GROUP}/server-uid"
LABEL_ORIGIN: Final = f"{GROUP}/origin"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "serverops"

# The annotation that the operator writes to wake itself up for a retry that is due.
ANNOTATION_RETRY: Final = f"{GROUP}/retry"

# Soft delete: the interval on a Server, the restore request on a DeletedServer, and the
# mark on a restored Server that names the DeletedServer it came from.
ANNOTATION_RECLAIM_INTERVAL: Final = f"{GROUP}/reclaim-interval"
ANNOTATION_RESTORE: Final = f"{GROUP}/restore"
ANNOTATION_RESTORED_FROM: Final = f"{GROUP}/restored-from"

# Port origins, as Nova tells them apart: ports it made for the server are deleted with
# it, ports the user supplied are only unbound (Nova's preserve_on_delete).
ORIGIN_CREATED: Final = "created"
ORIGIN_ATTACHED: Final = "attached"

# Server states and tasks, with Nova's names.
STATUS_BUILD: Final = "BUILD"
STATUS_ACTIVE: Final = "ACTIVE"
STATUS_ERROR: Final = "ERROR"
STATUS_SOFT_DELETED: Final = "SOFT_DELETED"
TASK_DELETING: Final = "deleting"
TASK_SOFT_DELETING: Final = "soft-deleting"
TASK_RESTORING: Final = "restoring"

# Port states, with Neutron's names.
PORT_DOWN: Final = "DOWN"
PORT_ACTIVE: Final = "ACTIVE"
PORT_ERROR: Final = "ERROR"

# Condition types and the reasons the operator sets on them.
CONDITION_READY: Final = "Ready"
CONDITION_DELETION_BLOCKED: Final = "DeletionBlocked"
CONDITION_RESTORED: Final = "Restored"

REASON_ACTIVE: Final = "Active"
REASON_BUILDING: Final = "Building"
REASON_DELETING: Final = "Deleting"
REASON_PORT_IN_USE: Final = "PortInUse"
REASON_PORT_NOT_FOUND: Final = "PortNotFound"
REASON_PORT_NAME_TAKEN: Final = "PortNameTaken"
REASON_MAC_IN_USE: Final = "MacAddressInUse"
REASON_LOCKED: Final = "Locked"
REASON_LOCK_OVERRIDDEN: Final = "LockOverridden"
REASON_INVALID_RECLAIM_INTERVAL: Final = "InvalidReclaimInterval"
REASON_SOFT_DELETING: Final = "SoftDeleting"
REASON_SOFT_DELETED: Final = "SoftDeleted"
REASON_RESTORING: Final = "Restoring"
REASON_RESTORED: Final = "Restored"
REASON_NAME_TAKEN: Final = "NameTaken"
REASON_NOT_REQUESTED: Final = "NotRequested"
REASON_PURGED: Final = "Purged"
REASON_RECORD_REJECTED: Final = "RecordRejected"
REASON_NOT_BLOCKED: Final = "NotBlocked"
REASON_UNBOUND: Final = "Unbound"
REASON_BOUND: Final = "Bound"
