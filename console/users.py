"""The console's users: name, role (viewer or admin) and an Argon2id password hash, from the
file ``frontdesk console add-user`` writes (``console.users_file``) and from the environment
variable ``FRONTDESK_CONSOLE_USERS`` ("name:role:hash" entries, one per line or ``;``)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

Role = Literal["viewer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "admin")
ENV = "FRONTDESK_CONSOLE_USERS"
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
# Verified when the name is unknown, so a wrong name costs the same time as a wrong password.
_DUMMY = _hasher.hash("frontdesk-console-dummy-password")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    hash: str


class UserError(ValueError):
    """A user entry that cannot be used; the message says why."""


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise UserError("the password needs at least 10 characters")
    return _hasher.hash(password)


def _role(text: str) -> Role:
    for role in ROLES:
        if text == role:
            return role
    raise UserError(f"role {text!r}: use viewer or admin")


def _user(name: str, role: str, hashed: str) -> User:
    if not _NAME.match(name):
        raise UserError(f"user name {name!r}: letters, digits and . _ @ - only")
    if not hashed.startswith("$argon2"):
        raise UserError(f"user {name}: the password hash is not an Argon2 hash")
    return User(name=name, role=_role(role), hash=hashed)


def from_env(value: str | None) -> dict[str, User]:
    users: dict[str, User] = {}
    for entry in re.split(r"[;\n]", value or ""):
        if not entry.strip():
            continue
        parts = entry.strip().split(":", 2)
        if len(parts) != 3:
            raise UserError(f"{ENV}: {parts[0]!r}: expected name:role:argon2-hash")
        user = _user(*parts)
        users[user.name] = user
    return users


def from_file(path: Path) -> dict[str, User]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    users = [_user(u["name"], u["role"], u["hash"]) for u in data.get("users", [])]
    return {u.name: u for u in users}


def load_users(users_file: str) -> dict[str, User]:
    """The file's users, then the environment's (which win on the same name)."""
    return {**from_file(Path(users_file)), **from_env(os.environ.get(ENV))}


def save_user(users_file: str, name: str, role: str, password: str) -> User:
    """Add or replace ``name`` in the file (created with mode 0600)."""
    user = _user(name, role, hash_password(password))
    path = Path(users_file)
    users = from_file(path)
    users[user.name] = user
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"users": [{"name": u.name, "role": u.role, "hash": u.hash} for u in users.values()]}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(body, out, indent=2)
    tmp.replace(path)
    return user


def verify(users: dict[str, User], name: str, password: str) -> User | None:
    user = users.get(name)
    try:
        _hasher.verify(user.hash if user else _DUMMY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return user
