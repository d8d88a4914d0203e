"""The ``dialogs`` section of ``config.yml``."""

from __future__ import annotations

from common.settings import Section


class DialogSettings(Section):
    # Off unless configured (the committed config.yml turns the example bot on): without
    # dialogs, the gateway runs the echo dialog.
    enabled: bool = False
    path: str = "dialogs/example"  # a directory of dialog YAML
    tests: str = ""  # conversation tests for `frontdesk test`; default: <path>/tests
    hot_reload: bool = True  # watch path and nlu.data; swap in valid changes
    # Serve the example's fake order service in process at this URL (frontdesk chat / run);
    # empty: the business's own backend is used.
    demo_order_service: str = ""

    @property
    def tests_path(self) -> str:
        return self.tests or f"{self.path.rstrip('/')}/tests"
