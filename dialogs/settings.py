"""The ``dialogs`` section of ``config.yml`` (defined with the other settings)."""

from gateway.config import DialogSettings

__all__ = ["DialogSettings"]
