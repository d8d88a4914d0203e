"""The console's settings section (``console:`` in config.yml)."""

from __future__ import annotations

from pydantic import Field

from common.settings import Section


class ConsoleSettings(Section):
    """The admin console at /console (docs/console.md)."""

    enabled: bool = True
    # Users written by `frontdesk console add-user` (JSON); more may come from the environment
    # variable FRONTDESK_CONSOLE_USERS ("name:role:argon2-hash" entries, one per line or ";").
    users_file: str = ".frontdesk/console-users.json"
    session_ttl: float = Field(default=12 * 3600.0, gt=0, description="seconds a login lasts")
    max_failures: int = Field(default=5, ge=1, description="failed logins before a pause")
    lockout: float = Field(default=900.0, gt=0, description="seconds of that pause")
