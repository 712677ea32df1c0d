"""What the admission webhooks allow: Nova's lock rules, and input checks with clear errors.

- Deleting a locked Server, restoring or force-deleting the DeletedServer of a locked
  one, is answered with 409 Conflict unless the caller is an administrator (a member of
  one of the configured groups), as Nova answers ``InstanceIsLocked``.
- Only an administrator may clear a lock that an administrator set; who set a lock is
  recorded by :func:`record_locker` in the mutating webhook.
- Bad input is answered with 422 and a message that names the field, the value and the
  accepted forms. The handlers still cope with every such value when the webhook is
  absent; the webhook only says so earlier and more clearly.

The functions here take plain values and raise :class:`kopf.AdmissionError`;
:mod:`serverops.handlers` wires them to kopf.
"""

import datetime
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

import kopf

from serverops import approvals, constants, intervals, macs, restoring

ANNOTATION_LOCKED_BY = f"{constants.GROUP}/locked-by"
ANNOTATION_LOCKED_BY_ADMIN = f"{constants.GROUP}/locked-by-admin"

CONFLICT = 409
FORBIDDEN = 403
INVALID = 422

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

# Returns the uid of the server that holds a port, '' when unbound, None when unknown.
HolderLookup = Callable[[str, str], str | None]

# A lookup of the DeletedServer of a namespace and name, as the operator last saw it.
RecordLookup = Callable[[str, str], Mapping[str, Any] | None]


def is_admin(userinfo: Mapping[str, Any], admin_groups: Collection[str]) -> bool:
    groups = set(userinfo.get("groups") or [])
    return bool(groups & set(admin_groups))


def check_server(
    *,
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    userinfo: Mapping[str, Any],
    admin_groups: Collection[str],
    holder_of: HolderLookup,
    record_of: RecordLookup,
    approval_key: bytes,
) -> None:
    """Check a Server being created or updated."""
    spec = new.get("spec") or {}
    namespace = str(_metadata(new).get("namespace", ""))
    annotations = _annotations(new)

    interval = annotations.get(constants.ANNOTATION_RECLAIM_INTERVAL)
    if interval is not None:
        field = f"metadata.annotations[{constants.ANNOTATION_RECLAIM_INTERVAL}]"
        try:
            intervals.parse(str(interval), source=field)
        except intervals.InvalidInterval as error:
            raise kopf.AdmissionError(str(error), code=INVALID) from None

    claim = annotations.get(constants.ANNOTATION_RESTORED_FROM)
    if claim is not None and claim != _annotations(old).get(constants.ANNOTATION_RESTORED_FROM):
        record = record_of(namespace, str(claim))
        name = str(_metadata(new).get("name"))
        if record is None or not restoring.requests_restore_of(record, name):
            raise kopf.AdmissionError(
                f"metadata.annotations[{constants.ANNOTATION_RESTORED_FROM}]: Invalid value: "
                f"{claim!r}: only a restore of DeletedServer {namespace}/{claim} may set it, "
                f"and that record does not request one; remove the annotation, or set "
                f'{constants.ANNOTATION_RESTORE}="true" on the DeletedServer to restore it.',
                code=INVALID,
            )

    for index, item in enumerate(spec.get("networks") or []):
        _check_network_item(
            index=index,
            item=item,
            namespace=namespace,
            server=new,
            holder_of=holder_of,
            record_of=record_of,
        )

    if old is not None:
        _check_unlock(new=new, old=old, userinfo=userinfo, admin_groups=admin_groups)

    approval = annotations.get(approvals.ANNOTATION)
    if approval is not None and approval != _annotations(old).get(approvals.ANNOTATION):
        if approvals.decode(str(approval), approval_key) is None:
            raise kopf.AdmissionError(
                f"metadata.annotations[{approvals.ANNOTATION}]: only the serverops operator "
                f"writes deletion approvals; remove the annotation.",
                code=FORBIDDEN,
            )


def check_server_deletion(
    *,
    old: Mapping[str, Any],
    userinfo: Mapping[str, Any],
    admin_groups: Collection[str],
) -> bool:
    """Reject a non-administrator's deletion of a locked server with 409 Conflict.

    Returns True when the deletion needs an approval: the server is locked and the caller
    is an administrator.
    """
    spec = old.get("spec") or {}
    if not spec.get("locked"):
        return False
    if is_admin(userinfo, admin_groups):
        return True
    raise kopf.AdmissionError(
        _locked_message(old, action="deleted", admin_groups=admin_groups), code=CONFLICT
    )


def check_deleted_server(
    *,
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    userinfo: Mapping[str, Any],
    admin_groups: Collection[str],
    live_server: Callable[[str], str],
) -> None:
    """Check a DeletedServer: its record never changes, it names a deleted server, and a
    non-administrator's restore of a locked server's record is a 409 Conflict."""
    spec = new.get("spec") or {}
    if old is not None and (old.get("spec") or {}) != spec:
        raise kopf.AdmissionError(
            "spec: Forbidden: a DeletedServer's spec is the record of a deleted server and "
            "cannot change; restore the server and change the Server instead.",
            code=INVALID,
        )
    if old is None and live_server(str(spec.get("originalUID", ""))):
        raise kopf.AdmissionError(
            f"spec.originalUID: Invalid value: {spec.get('originalUID')!r}: that server "
            f"exists and is not being deleted; only the operator records deleted servers.",
            code=INVALID,
        )

    _check_restore_request(new=new, old=old, userinfo=userinfo, admin_groups=admin_groups)


def _check_restore_request(
    *,
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    userinfo: Mapping[str, Any],
    admin_groups: Collection[str],
) -> None:
    """Check a change of the restore annotation: a valid value, a record that can still be
    restored, no withdrawal of a restore under way, and the lock."""
    requested = _annotations(new).get(constants.ANNOTATION_RESTORE)
    before = _annotations(old).get(constants.ANNOTATION_RESTORE)
    if requested == before:
        return

    field = f"metadata.annotations[{constants.ANNOTATION_RESTORE}]"
    name = f"{_metadata(new).get('namespace')}/{_metadata(new).get('name')}"
    if requested is not None and requested != "true":
        raise kopf.AdmissionError(
            f'{field}: Invalid value: {requested!r}: set it to "true" to restore the server, '
            f"or remove it.",
            code=INVALID,
        )
    if (
        requested is None
        and ((old or {}).get("status") or {}).get("taskState") == constants.TASK_RESTORING
    ):
        raise kopf.AdmissionError(
            f"{field}: Forbidden: the restore of DeletedServer {name} is under way and cannot "
            f"be withdrawn; wait until the server is back, then delete it if it is not wanted.",
            code=INVALID,
        )
    if requested is None:
        return

    if _metadata(old).get("deletionTimestamp"):
        raise kopf.AdmissionError(
            f"DeletedServer {name} is being purged and can no longer be restored. If its purge "
            f"is held by a lock, an administrator can let it go ahead with kubectl delete.",
            code=CONFLICT,
        )
    server = (new.get("spec") or {}).get("server") or {}
    if server.get("locked") and not is_admin(userinfo, admin_groups):
        raise kopf.AdmissionError(
            _locked_message(new, action="restored", admin_groups=admin_groups), code=CONFLICT
        )


def check_deleted_server_deletion(
    *,
    old: Mapping[str, Any],
    userinfo: Mapping[str, Any],
    admin_groups: Collection[str],
    now: datetime.datetime,
) -> bool:
    """Reject a non-administrator's force delete of a locked server's record with 409.

    The reclaim at ``reclaimAt``, and a deletion during a restore (the one that ends it,
    or one whose purge waits for it and then frees nothing), are not force deletes and
    pass. Returns True when an administrator's approval is to be recorded.
    """
    spec = old.get("spec") or {}
    status = old.get("status") or {}
    requested = restoring.is_requested(_annotations(old))
    under_way = requested and status.get("taskState") == constants.TASK_RESTORING
    if not (spec.get("server") or {}).get("locked") or under_way:
        return False
    reclaim_at = datetime.datetime.fromisoformat(str(spec.get("reclaimAt")).replace("Z", "+00:00"))
    if now >= reclaim_at:
        return False
    if is_admin(userinfo, admin_groups):
        return True
    raise kopf.AdmissionError(
        _locked_message(old, action="force-deleted", admin_groups=admin_groups), code=CONFLICT
    )


def check_port(
    *,
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    mac_holder: Callable[[str, str, str], str],
) -> None:
    """Check a Port: a usable MAC address that no other port on its network has, and no
    change of network or address while it is bound."""
    spec = new.get("spec") or {}
    network = str(spec.get("network", ""))
    requested = spec.get("macAddress")
    if requested:
        problem = macs.problem_with(str(requested))
        if problem:
            raise kopf.AdmissionError(
                f"spec.macAddress: Invalid value: {requested!r}: {problem}; choose another "
                f"address, or leave the field out to get one assigned.",
                code=INVALID,
            )

    before = (old or {}).get("spec") or {}
    bound = ((old or {}).get("status") or {}).get("server")
    if bound and (before.get("network") != network or before.get("macAddress") != requested):
        raise kopf.AdmissionError(
            f"spec: Forbidden: port {_metadata(new).get('namespace')}/{_metadata(new).get('name')}"
            f" is bound to server {bound.get('name')}; detach it (remove it from the server's "
            f"spec.networks) before changing its network or MAC address.",
            code=INVALID,
        )

    # The address the port will have: the one asked for, else the one it has.
    mac = requested or ((old or {}).get("status") or {}).get("macAddress")
    if not mac:
        return
    holder = mac_holder(network, macs.normalize(str(mac)), str(_metadata(new).get("uid", "")))
    if holder:
        raise kopf.AdmissionError(
            f"spec.macAddress: Invalid value: {mac!r}: port {holder} on network {network} "
            f"already uses it; choose another address, or leave the field out to get one "
            f"assigned.",
            code=INVALID,
        )


def record_locker(
    *,
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    userinfo: Mapping[str, Any],
    admin_groups: Collection[str],
    patch: kopf.Patch,
) -> None:
    """Record who locked the server, as Nova's ``locked_by``, in two annotations."""
    locked = bool((new.get("spec") or {}).get("locked"))
    was_locked = bool(((old or {}).get("spec") or {}).get("locked"))
    annotations = _annotations(new)
    previous = _annotations(old)

    if not locked:
        for key in (ANNOTATION_LOCKED_BY, ANNOTATION_LOCKED_BY_ADMIN):
            if key in annotations:
                patch.metadata.annotations[key] = None
        return

    if was_locked:
        wanted = {
            key: previous.get(key) for key in (ANNOTATION_LOCKED_BY, ANNOTATION_LOCKED_BY_ADMIN)
        }
    else:
        wanted = {
            ANNOTATION_LOCKED_BY: str(userinfo.get("username", "")),
            ANNOTATION_LOCKED_BY_ADMIN: "true" if is_admin(userinfo, admin_groups) else "false",
        }
    for key, value in wanted.items():
        if annotations.get(key) != value:
            patch.metadata.annotations[key] = value


def _check_network_item(
    *,
    index: int,
    item: Mapping[str, Any],
    namespace: str,
    server: Mapping[str, Any],
    holder_of: HolderLookup,
    record_of: RecordLookup,
) -> None:
    field = f"spec.networks[{index}]"
    network = item.get("network")
    port = item.get("port")
    if bool(network) == bool(port):
        raise kopf.AdmissionError(
            f"{field}: Invalid value: {dict(item)!r}: set exactly one of network (a port is "
            f"created on that network) or port (the name of an existing Port in {namespace}).",
            code=INVALID,
        )
    if not port:
        return

    port = str(port)
    if "/" in port:
        raise kopf.AdmissionError(
            f"{field}.port: Invalid value: {port!r}: a Server can attach only a Port in its own "
            f"namespace ({namespace}); give the name of a port in {namespace}.",
            code=INVALID,
        )
    if len(port) > 253 or not _DNS_SUBDOMAIN.match(port):
        raise kopf.AdmissionError(
            f"{field}.port: Invalid value: {port!r}: a port name is a DNS subdomain: lower-case "
            f"letters, digits, '-' and '.', at most 253 characters.",
            code=INVALID,
        )

    uid = str(_metadata(server).get("uid", ""))
    holder = holder_of(namespace, port)

    # A restore brings a server back to the ports its old uid still holds. Anyone can
    # write the restored-from annotation, so the record it names must agree.
    restored_from = str(_annotations(server).get(constants.ANNOTATION_RESTORED_FROM, ""))
    record = record_of(namespace, restored_from) if holder and restored_from else None
    if record is not None and _restores(record, server=server, holder=str(holder)):
        return
    if holder and holder != uid:
        raise kopf.AdmissionError(
            f"{field}.port: Invalid value: {port!r}: port {namespace}/{port} is bound to another "
            f"server (uid {holder}); detach it there first, or attach another port.",
            code=INVALID,
        )


def _restores(record: Mapping[str, Any], *, server: Mapping[str, Any], holder: str) -> bool:
    """Tell whether ``record`` is a DeletedServer whose requested restore brings ``server``
    back to the ports that ``holder``, its old uid, is still bound to."""
    spec = record.get("spec") or {}
    name = str(_metadata(server).get("name"))
    return restoring.requests_restore_of(record, name) and spec.get("originalUID") == holder


def _check_unlock(
    *,
    new: Mapping[str, Any],
    old: Mapping[str, Any],
    userinfo: Mapping[str, Any],
    admin_groups: Collection[str],
) -> None:
    was_locked = bool((old.get("spec") or {}).get("locked"))
    locked = bool((new.get("spec") or {}).get("locked"))
    reason_changed = (old.get("spec") or {}).get("lockedReason") != (new.get("spec") or {}).get(
        "lockedReason"
    )
    if not was_locked or (locked and not reason_changed) or is_admin(userinfo, admin_groups):
        return
    previous = _annotations(old)
    if previous.get(ANNOTATION_LOCKED_BY_ADMIN) == "true":
        name = f"{_metadata(old).get('namespace')}/{_metadata(old).get('name')}"
        raise kopf.AdmissionError(
            f"Server {name} was locked by the administrator "
            f"{previous.get(ANNOTATION_LOCKED_BY, '(unknown)')}; only an administrator (a "
            f"member of {', '.join(sorted(admin_groups))}) can unlock it or change its reason.",
            code=FORBIDDEN,
        )


def _metadata(body: Mapping[str, Any] | None) -> Mapping[str, Any]:
    metadata: Mapping[str, Any] = (body or {}).get("metadata") or {}
    return metadata


def _annotations(body: Mapping[str, Any] | None) -> Mapping[str, Any]:
    annotations: Mapping[str, Any] = _metadata(body).get("annotations") or {}
    return annotations


def _locked_message(body: Mapping[str, Any], *, action: str, admin_groups: Collection[str]) -> str:
    metadata = _metadata(body)
    spec = body.get("spec") or {}
    if body.get("kind") == "DeletedServer" and action == "restored":
        name = f"{metadata.get('namespace')}/{spec.get('originalName')}"
        reason = (spec.get("server") or {}).get("lockedReason")
        unlock = "ask an administrator to restore it"
    elif body.get("kind") == "DeletedServer":
        name = f"{metadata.get('namespace')}/{spec.get('originalName')}"
        reason = (spec.get("server") or {}).get("lockedReason")
        unlock = f"ask an administrator, or wait for its reclaim at {spec.get('reclaimAt')}"
    else:
        name = f"{metadata.get('namespace')}/{metadata.get('name')}"
        reason = spec.get("lockedReason")
        unlock = "unlock it (spec.locked: false) first"
    because = f": {str(reason).rstrip('.')}" if reason else " (no reason given)"
    return (
        f"Server {name} is locked{because}. It cannot be {action} except by an administrator "
        f"(a member of {', '.join(sorted(admin_groups))}); {unlock}."
    )
