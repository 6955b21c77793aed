"""GenAuth's application authorization model, for the local issuer.

As in the GenAuth console: an application has **roles** (a code and a description)
whose **members** are users; roles are **granted** ``resource:action`` permissions;
**access policies** allow or deny a subject (a user, a role, a group) the application.
A user's access token carries the permissions that were asked for *and* that the
user's roles grant; a user the policies deny gets no token at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "AccessDenied",
    "AccessPolicy",
    "ApplicationAccess",
    "Effect",
    "LocalRole",
    "LocalUser",
    "SubjectType",
]

Effect = Literal["allow", "deny"]
SubjectType = Literal["user", "role", "group"]
_EFFECTS = ("allow", "deny")
_SUBJECT_TYPES = ("user", "role", "group")

#: The scope asking for the ``roles`` claim (GenAuth's OIDC ``roles`` scope): not a
#: permission, so never part of the granted scopes.
ROLES_SCOPE = "roles"


class AccessDenied(PermissionError):
    """The application's access policies deny this user: no token is issued."""


@dataclass
class LocalUser:
    """A user of the application: an id (the tokens' ``sub``), a password, groups."""

    user_id: str
    password: str | None = field(default=None, repr=False)
    groups: tuple[str, ...] = ()


@dataclass
class LocalRole:
    """An application role: its code (what tokens carry), members and permissions."""

    code: str
    description: str = ""
    permissions: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class AccessPolicy:
    """Allow or deny one subject (a user id, a role code, a group code) the application."""

    effect: Effect
    subject_type: SubjectType
    subject: str


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or value != value.strip() or " " in value:
        raise ValueError(f"{what} must be a non-empty string without spaces")
    return value


def _permission(value: object) -> str:
    scope = _name(value, "a permission")
    resource, _, action = scope.partition(":")
    if not resource or not action:
        raise ValueError(f"permission {scope!r} must be resource:action, e.g. order:read")
    return scope


class ApplicationAccess:
    """Users, roles and access policies of one application, and the rules between them.

    Policies: a matching ``deny`` wins over any ``allow``; with no policy matching the
    user, ``default_effect`` decides (GenAuth's default lets every user in).
    """

    def __init__(self, default_effect: Effect = "allow") -> None:
        self.users: dict[str, LocalUser] = {}
        self.roles: dict[str, LocalRole] = {}
        self.policies: list[AccessPolicy] = []
        self.default_effect = default_effect

    @property
    def default_effect(self) -> Effect:
        return self._default_effect

    @default_effect.setter
    def default_effect(self, value: Effect) -> None:
        if value not in _EFFECTS:
            raise ValueError(f"an access policy effect is 'allow' or 'deny', not {value!r}")
        self._default_effect = value

    def add_user(
        self,
        user_id: str,
        password: str | None = None,
        *,
        groups: Iterable[str] = (),
        roles: Iterable[str] = (),
    ) -> LocalUser:
        """Create (or replace) a user, optionally in ``groups`` and member of ``roles``."""
        user = LocalUser(
            _name(user_id, "a user id"), password, tuple(_name(g, "a group") for g in groups)
        )
        self.users[user_id] = user
        for code in roles:
            self.assign_role(code, user_id)
        return user

    def add_role(
        self,
        code: str,
        description: str = "",
        *,
        permissions: Iterable[str] = (),
        members: Iterable[str] = (),
    ) -> LocalRole:
        """Create a role (or extend one) granted ``permissions``, with ``members``."""
        role = self.roles.get(code)
        if role is None:
            role = self.roles[_name(code, "a role code")] = LocalRole(code, description)
        elif description:
            role.description = description
        role.permissions.update(_permission(p) for p in permissions)
        for user_id in members:
            self.assign_role(code, user_id)
        return role

    def assign_role(self, code: str, *user_ids: str) -> None:
        """Make existing users members of role ``code`` (created when new)."""
        role = self.roles.get(code) or self.add_role(code)
        for user_id in user_ids:
            if user_id not in self.users:
                raise KeyError(f"unknown user {user_id!r}: add_user it first")
            role.members.add(user_id)

    def add_policy(self, effect: Effect, subject_type: SubjectType, subject: str) -> AccessPolicy:
        """Allow or deny a user, a role's members or a group's members the application."""
        if effect not in _EFFECTS:
            raise ValueError(f"an access policy effect is 'allow' or 'deny', not {effect!r}")
        if subject_type not in _SUBJECT_TYPES:
            raise ValueError(f"a policy subject is one of {_SUBJECT_TYPES}, not {subject_type!r}")
        policy = AccessPolicy(effect, subject_type, _name(subject, "a policy subject"))
        self.policies.append(policy)
        return policy

    # -- rules -------------------------------------------------------------------------

    def _user(self, user_id: str) -> LocalUser:
        user = self.users.get(user_id)
        if user is None:
            raise KeyError(f"unknown user {user_id!r}")
        return user

    def roles_of(self, user_id: str) -> tuple[str, ...]:
        """The codes of the roles ``user_id`` is a member of, sorted."""
        self._user(user_id)
        return tuple(sorted(r.code for r in self.roles.values() if user_id in r.members))

    def permissions_of(self, user_id: str) -> frozenset[str]:
        """Every ``resource:action`` the user's roles grant."""
        granted: set[str] = set()
        for code in self.roles_of(user_id):
            granted |= self.roles[code].permissions
        return frozenset(granted)

    def _matches(self, policy: AccessPolicy, user: LocalUser, roles: tuple[str, ...]) -> bool:
        if policy.subject_type == "user":
            return policy.subject == user.user_id
        if policy.subject_type == "role":
            return policy.subject in roles
        return policy.subject in user.groups

    def is_allowed(self, user_id: str) -> bool:
        """Whether the policies let ``user_id`` into the application (deny wins)."""
        user = self._user(user_id)
        roles = self.roles_of(user_id)
        effects = {p.effect for p in self.policies if self._matches(p, user, roles)}
        if "deny" in effects:
            return False
        return "allow" in effects or self.default_effect == "allow"

    def grant(self, user_id: str, asked: Iterable[str] | None) -> tuple[str, ...]:
        """The scopes a token for ``user_id`` carries: asked and granted by the roles.

        Nothing asked gives every granted permission (RFC 6749 section 3.3 leaves the
        default to the server). Raises :class:`AccessDenied` when a policy denies the
        user, ``KeyError`` for an unknown user.
        """
        if not self.is_allowed(user_id):
            raise AccessDenied(f"the application's access policies deny user {user_id!r}")
        granted = self.permissions_of(user_id)
        if asked is None:
            return tuple(sorted(granted))
        return tuple(s for s in dict.fromkeys(asked) if s in granted)
