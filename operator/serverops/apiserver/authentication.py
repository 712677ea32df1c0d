"""
Authentication of requests by bearer token, as kube-apiserver's static token file does.

A :class:`TokenAuthenticator` maps each token to a :class:`UserInfo`. Every user it
returns is in the ``system:authenticated`` group. Tokens come from the constructor of
the server or from a file in the format of kube-apiserver's ``--token-auth-file``
(``token,user,uid,"group1,group2"``). A request without an ``Authorization`` header is
anonymous (``system:anonymous`` in ``system:unauthenticated``) when anonymous requests
are enabled, and is rejected otherwise. A request with an unknown token is always
rejected with 401, as kube-apiserver does even with anonymous requests enabled.

Service accounts are only token mappings here: :func:`service_account` builds the user
name and groups that kube-apiserver gives a service account's token.
"""

from __future__ import annotations

import csv
import dataclasses
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from serverops.apiserver import errors

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
MASTERS = "system:masters"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"


@dataclasses.dataclass(frozen=True)
class UserInfo:
    """The user a request acts as: name, uid, groups and extra values."""

    username: str = "system:admin"
    groups: tuple[str, ...] = (MASTERS, AUTHENTICATED)
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """Return the ``authentication.k8s.io/v1`` UserInfo of admission reviews."""
        body: dict[str, Any] = {"username": self.username}
        if self.uid:
            body["uid"] = self.uid
        body["groups"] = list(self.groups)
        if self.extra:
            body["extra"] = {key: list(values) for key, values in self.extra.items()}
        return body


ADMIN = UserInfo()
ANONYMOUS_USER = UserInfo(ANONYMOUS, (UNAUTHENTICATED,))


def with_authenticated(groups: Iterable[str]) -> tuple[str, ...]:
    """Return the groups with ``system:authenticated`` added, as every token user gets it."""
    result = tuple(groups)
    return result if AUTHENTICATED in result else (*result, AUTHENTICATED)


def service_account(namespace: str, name: str, *, uid: str = "") -> UserInfo:
    """Build the user of a service account's token: ``system:serviceaccount:<ns>:<name>``."""
    return UserInfo(
        username=f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
        groups=(SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}", AUTHENTICATED),
        uid=uid,
    )


def split_service_account(username: str) -> tuple[str, str] | None:
    """Return the namespace and name of a service account's user name, else None."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = username[len(SERVICE_ACCOUNT_PREFIX) :].split(":")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


TokenUser = UserInfo | tuple[str, Sequence[str]] | str


def to_user(value: TokenUser) -> UserInfo:
    """Accept a UserInfo, a ``(name, groups)`` pair or a bare name; add system:authenticated."""
    if isinstance(value, UserInfo):
        user = value
    elif isinstance(value, str):
        user = UserInfo(value, ())
    else:
        name, groups = value
        user = UserInfo(name, tuple(groups))
    return dataclasses.replace(user, groups=with_authenticated(user.groups))


def load_token_file(path: str | pathlib.Path) -> dict[str, UserInfo]:
    """Read a kube-apiserver ``--token-auth-file``: ``token,user,uid[,"group1,group2"]``.

    Raise ValueError with the line number for a line with fewer than three columns or
    a token that appears twice.
    """
    tokens: dict[str, UserInfo] = {}
    with pathlib.Path(path).open(newline="") as stream:
        for number, row in enumerate(csv.reader(stream), start=1):
            if not row or row[0].startswith("#"):
                continue
            if len(row) < 3:
                raise ValueError(
                    f"{path}, line {number}: expected token,user,uid[,groups], got {len(row)} "
                    "columns"
                )
            token, name, uid = (cell.strip() for cell in row[:3])
            if token in tokens:
                raise ValueError(f"{path}, line {number}: the token of {name!r} is a duplicate")
            groups = [group.strip() for group in row[3].split(",")] if len(row) > 3 else []
            tokens[token] = to_user(UserInfo(name, tuple(g for g in groups if g), uid=uid))
    return tokens


class TokenAuthenticator:
    """Map the bearer token of a request to its user."""

    def __init__(self, tokens: Mapping[str, TokenUser], *, anonymous: bool = False) -> None:
        self.tokens = {token: to_user(user) for token, user in tokens.items()}
        self.anonymous = anonymous

    def authenticate(self, authorization: str | None) -> UserInfo:
        """Return the user of an ``Authorization`` header value; raise 401 when unknown."""
        if not authorization:
            if self.anonymous:
                return ANONYMOUS_USER
            raise unauthorized()
        scheme, _, token = authorization.strip().partition(" ")
        user = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise unauthorized()
        return user


def unauthorized() -> errors.APIError:
    """Build the 401 of kube-apiserver: a Status with reason Unauthorized and no details."""
    return errors.APIError(401, "Unauthorized", "Unauthorized")
