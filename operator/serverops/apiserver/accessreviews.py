"""
SelfSubjectAccessReviews: "may I do this?", which ``kubectl auth can-i`` sends.

A create of ``authorization.k8s.io/v1`` SelfSubjectAccessReview is answered with the
review and its ``status.allowed``, decided by the server's authorizer for the requesting
user (after impersonation), and nothing is stored, as in kube-apiserver.
"""

from __future__ import annotations

from typing import Any

from serverops.apiserver import authorization, errors
from serverops.apiserver.authentication import UserInfo

GROUP = "authorization.k8s.io"
PLURAL = "selfsubjectaccessreviews"


def review(body: Any, user: UserInfo, authorizer: authorization.Authorizer) -> dict[str, Any]:
    """Decide a SelfSubjectAccessReview for ``user``; return it with its status."""
    if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
        raise errors.bad_request("a SelfSubjectAccessReview needs a spec")
    spec = body["spec"]
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if isinstance(resource, dict):
        attributes = authorization.RequestAttributes(
            user=user,
            verb=str(resource.get("verb", "")),
            resource_request=True,
            group=str(resource.get("group", "")),
            version=str(resource.get("version", "")),
            resource=str(resource.get("resource", "")),
            subresource=str(resource.get("subresource", "")),
            namespace=str(resource.get("namespace", "")),
            name=str(resource.get("name", "")),
        )
    elif isinstance(non_resource, dict):
        attributes = authorization.RequestAttributes(
            user=user,
            verb=str(non_resource.get("verb", "")),
            resource_request=False,
            path=str(non_resource.get("path", "")),
        )
    else:
        problem = errors.invalid(
            "spec.resourceAttributes",
            None,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )
        raise errors.invalid_object(
            group=GROUP, kind="SelfSubjectAccessReview", name="", errors=[problem]
        )
    allowed, reason = authorizer.authorize(attributes)
    status: dict[str, Any] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    return {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": f"{GROUP}/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }
