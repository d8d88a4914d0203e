"""The whole ``config.yml``: each package's settings section put together, and loaded with
file and line for every problem (see common/settings.py)."""

from __future__ import annotations

import os
from pathlib import Path

from channels.settings import ChannelSettings
from common.settings import ConfigError, ConfigProblem, parse_model
from console.settings import ConsoleSettings
from dialogs.settings import DialogSettings
from gateway.settings import GatewaySettings
from nlu.settings import KnowledgeSettings, NluSettings

DEFAULT_CONFIG = "config.yml"


class Settings(GatewaySettings):
    """``server``, ``store``, ``workers``, ``outbox``, ``limits``, ``log`` and ``handoff``
    (the gateway's), plus the channels, the NLU, the dialogs and the knowledge base."""

    channels: ChannelSettings = ChannelSettings()
    nlu: NluSettings = NluSettings()
    dialogs: DialogSettings = DialogSettings()
    knowledge: KnowledgeSettings = KnowledgeSettings()
    console: ConsoleSettings = ConsoleSettings()


def parse_settings(text: str, file: str, env: dict[str, str] | None = None) -> Settings:
    """Parse and validate configuration text; raise ConfigError listing every problem."""
    return parse_model(text, file, Settings, env)


def load_settings(path: str | Path | None, env: dict[str, str] | None = None) -> Settings:
    """Load ``path`` (or the embedded defaults when None)."""
    if path is None:
        return Settings()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(p), 1, f"cannot read: {exc.strerror}")]) from exc
    return _relative_to(parse_settings(text, str(p), env), p.parent)


def _relative_to(settings: Settings, base: Path) -> Settings:
    """Paths in a configuration file are relative to the file, not to where the command runs
    (kept relative to the working directory where possible, for short messages)."""

    def resolve(value: str) -> str:
        if not value or os.path.isabs(value):
            return value
        return os.path.relpath(os.path.normpath(base / value))

    dialogs = settings.dialogs.model_copy(
        update={
            "path": resolve(settings.dialogs.path),
            "tests": resolve(settings.dialogs.tests),
        }
    )
    nlu = settings.nlu.model_copy(
        update={
            "data": tuple(resolve(d) for d in settings.nlu.data),
            "model_dir": resolve(settings.nlu.model_dir),
        }
    )
    knowledge = settings.knowledge.model_copy(update={"path": resolve(settings.knowledge.path)})
    return settings.model_copy(update={"dialogs": dialogs, "nlu": nlu, "knowledge": knowledge})


def load_cli_settings(path: str | None) -> Settings:
    """``--config`` if given; else ./config.yml if present; else the embedded defaults."""
    if path is None and Path(DEFAULT_CONFIG).exists():
        path = DEFAULT_CONFIG
    return load_settings(path)
