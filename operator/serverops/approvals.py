"""Signed approvals: how the finalizer tells an administrator's deletion of a locked server
from one that slipped past a missing webhook.

A finalizer runs after the fact and cannot see who deleted the object. So the admission
webhook, when it lets an administrator delete a locked server, writes an approval into
the annotation :data:`ANNOTATION`: who, for which object uid, and when, signed with
HMAC-SHA256 under the operator's approval key. Nobody without the key can write a valid
one, webhook or not. The finalizer accepts an approval only for the same uid, and only if
the deletion began no later than :data:`WINDOW` after it, so an approval left behind by a
deletion that failed cannot approve a later one. An approval written after the deletion
began (an administrator deleting an object whose deletion is already held) approves it:
a deletion, once begun, is never withdrawn.
"""

import dataclasses
import datetime
import hashlib
import hmac
import json
import secrets

from serverops import constants

ANNOTATION = f"{constants.GROUP}/deletion-approval"

# How long after the approval the deletion may begin. The webhook writes the approval
# just before the API server commits the deletion, so a few seconds suffice; the margin
# covers clock skew between the operator and the API server, whose deletionTimestamp
# has a resolution of one second.
WINDOW = datetime.timedelta(seconds=60)


@dataclasses.dataclass(frozen=True)
class Approval:
    """An administrator's approval to delete one locked object."""

    user: str
    uid: str
    at: datetime.datetime

    def encode(self, key: bytes) -> str:
        """Return the approval as the JSON text of the annotation, signed with ``key``."""
        fields = {"user": self.user, "uid": self.uid, "at": _format(self.at)}
        return json.dumps({**fields, "signature": _sign(fields, key)}, sort_keys=True)


def new_key() -> bytes:
    """Return a random approval key, for an operator that was given none."""
    return secrets.token_bytes(32)


def decode(text: str, key: bytes) -> Approval | None:
    """Return the approval in ``text`` if its signature is valid under ``key``, else None."""
    try:
        data = json.loads(text)
        fields = {"user": str(data["user"]), "uid": str(data["uid"]), "at": str(data["at"])}
        signature = str(data["signature"])
        at = datetime.datetime.fromisoformat(fields["at"].replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError):
        return None
    if not hmac.compare_digest(signature, _sign(fields, key)):
        return None
    return Approval(user=fields["user"], uid=fields["uid"], at=at)


def approves(approval: Approval | None, *, uid: str, deleted_at: datetime.datetime) -> bool:
    """Tell whether ``approval`` covers the deletion of ``uid`` at ``deleted_at``."""
    if approval is None or approval.uid != uid:
        return False
    return deleted_at <= approval.at + WINDOW


def _sign(fields: dict[str, str], key: bytes) -> str:
    message = json.dumps(fields, sort_keys=True).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _format(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
