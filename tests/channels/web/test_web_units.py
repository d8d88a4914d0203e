"""The web channel's pure parts: visitor tokens, identity hashes, the wire protocol, rendering
of replies, origins, rate limits, and the conversation log (memory and Redis)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.web.limits import Buckets
from channels.web.log import MemoryLog, RedisLog, valid_id
from channels.web.pages import origin_allowed
from channels.web.protocol import Hello, ProtocolError, Said, parse_frame, reply_entry, safe_url
from channels.web.tokens import TokenError, VisitorTokens, user_hash, verify_user
from common.messages import (
    Attachment,
    Button,
    ConversationRef,
    CustomerRef,
    CustomerReply,
)
from common.settings import ConfigError
from frontdesk.config import load_settings

# ------------------------------------------------------------------ tokens


def test_a_visitor_token_verifies_until_it_expires() -> None:
    tokens = VisitorTokens("s3cret", ttl=60)
    token = tokens.issue(now=1000)
    visitor = tokens.verify(token, now=1059)
    assert visitor and token.startswith(f"v1.{visitor}.")
    with pytest.raises(TokenError, match="expired"):
        tokens.verify(token, now=1061)
    assert tokens.verify(tokens.issue(visitor, now=1061), now=1100) == visitor  # refreshed


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature
        lambda t: t.replace(".", ".X", 1),  # another visitor id
        lambda t: ".".join([*t.split(".")[:2], "9999999999", t.split(".")[3]]),  # expiry
        lambda t: "garbage",
        lambda t: "",
    ],
    ids=["signature", "visitor", "expiry", "garbage", "empty"],
)
def test_a_tampered_token_is_refused(mangle: object) -> None:
    tokens = VisitorTokens("s3cret", ttl=60)
    with pytest.raises(TokenError):
        tokens.verify(mangle(tokens.issue()))  # type: ignore[operator]


@given(st.text(max_size=300))
def test_any_token_text_verifies_or_is_refused(text: str) -> None:
    tokens = VisitorTokens("s3cret", ttl=60)
    try:
        visitor = tokens.verify(text)
    except TokenError:
        return
    assert text == tokens.issue(visitor, now=int(text.split(".")[2]) - 60)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(TokenError, match="signature"):
        VisitorTokens("one", ttl=60).verify(VisitorTokens("two", ttl=60).issue())


def test_identity_verification_needs_the_sites_hmac() -> None:
    good = user_hash("site-secret", "user-42")
    assert good == hmac.new(b"site-secret", b"user-42", hashlib.sha256).hexdigest()
    assert verify_user("site-secret", "user-42", good) == "user-42"
    assert verify_user("site-secret", "user-42", good.upper()) == "user-42"
    for user, given_hash, secret in [
        ("user-43", good, "site-secret"),  # another user's hash
        ("user-42", "0" * 64, "site-secret"),
        ("user-42", None, "site-secret"),
        ("", good, "site-secret"),
        ("user-42", good, ""),  # not configured: a site's claim is never trusted
    ]:
        with pytest.raises(TokenError):
            verify_user(secret, user, given_hash)


# ---------------------------------------------------------------- protocol


def test_frames_parse_into_hello_and_messages() -> None:
    hello = parse_frame('{"type": "hello", "token": "t", "after": "17-0"}', max_chars=10)
    assert hello == Hello(token="t", after="17-0")
    assert parse_frame('{"type":"hello","after":"x"}', max_chars=10) == Hello()
    said = parse_frame('{"type":"message","client_id":"abcdefgh","text":" hi "}', max_chars=10)
    assert said == Said(client_id="abcdefgh", text="hi")
    pressed = '{"type":"message","client_id":"abcdefgh","text":"Yes","payload":"/yes"}'
    assert parse_frame(pressed, max_chars=10) == Said(
        client_id="abcdefgh", text="Yes", payload="/yes"
    )


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("nope", "bad_request"),
        ("[1]", "bad_request"),
        ('{"type": "shout"}', "bad_request"),
        ('{"type": "message", "text": "hi"}', "bad_request"),
        ('{"type": "message", "client_id": "short", "text": "hi"}', "bad_request"),
        ('{"type": "message", "client_id": "abcdefgh", "text": "   "}', "bad_request"),
        ('{"type": "message", "client_id": "abcdefgh", "text": 5}', "bad_request"),
        ('{"type": "message", "client_id": "abcdefgh", "text": "' + "x" * 11 + '"}', "too_long"),
        ('{"type": "hello", "token": ["t"]}', "bad_request"),
    ],
)
def test_malformed_frames_are_protocol_errors(raw: str, code: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_frame(raw, max_chars=10)
    assert refused.value.code == code


@given(
    st.one_of(
        st.text(),
        st.recursive(
            st.none() | st.text() | st.integers(),
            lambda c: (
                st.dictionaries(
                    st.sampled_from(
                        [
                            "type",
                            "client_id",
                            "text",
                            "payload",
                            "token",
                            "after",
                            "user_id",
                            "user_hash",
                            "user_name",
                        ]
                    ),
                    c,
                )
                | st.lists(c)
            ),
        ),
    )
)
def test_any_frame_parses_or_is_a_protocol_error(value: object) -> None:
    raw = value if isinstance(value, str) else json.dumps(value)
    for kind in ("hello", "message"):
        if isinstance(value, dict):
            raw = json.dumps({**value, "type": value.get("type", kind)})
        try:
            parsed = parse_frame(raw, max_chars=100)
        except ProtocolError:
            continue
        assert isinstance(parsed, Hello | Said)


def message(**fields: object) -> CustomerReply:
    base: dict[str, object] = {
        "key": "e1#0",
        "conversation": ConversationRef(channel="web", chat_id="v-x"),
        "customer": CustomerRef(channel="web", user_id="v-x"),
    }
    return CustomerReply(**(base | fields))  # type: ignore[arg-type]


def test_a_reply_renders_with_buttons_and_only_safe_media() -> None:
    entry = reply_entry(
        message(
            text="Pick",
            buttons=(Button(title="Yes", payload="/yes"),),
            attachments=(
                Attachment(kind="image", url="https://cdn.example.com/a.png", name="a.png"),
                Attachment(kind="file", url="javascript:alert(1)"),
                Attachment(kind="file", url="data:text/html,<script>"),
            ),
        ),
        now=5.0,
    )
    assert entry["from"] == "bot" and entry["agent"] is None
    assert entry["buttons"] == [{"title": "Yes", "payload": "/yes"}]
    assert [a["url"] for a in entry["attachments"]] == ["https://cdn.example.com/a.png"]


def test_an_agents_relayed_reply_carries_the_agents_name() -> None:
    entry = reply_entry(message(text="Alice: Hi: how can I help?", relay_of="1.2"))
    assert (entry["from"], entry["agent"], entry["text"]) == (
        "agent",
        "Alice",
        "Hi: how can I help?",
    )
    files_only = reply_entry(message(text="", relay_of="1.3"))
    assert (files_only["agent"], files_only["text"]) == ("Agent", "")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/x", True),
        ("http://example.com", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("data:text/html,x", False),
        ("//example.com", False),
        ("https://", False),
    ],
)
def test_only_http_links_are_safe(url: str, ok: bool) -> None:
    assert safe_url(url) is ok


# ----------------------------------------------------------------- origins


def test_origins_the_gateway_itself_listed_sites_or_any() -> None:
    own = "https://chat.example.com"
    assert origin_allowed("https://chat.example.com", "chat.example.com", own, ())
    assert origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", own, ())  # its own page
    assert origin_allowed("https://Shop.example.com/", "x", own, ("https://shop.example.com",))
    assert not origin_allowed("https://evil.example", "x", own, ("https://shop.example.com",))
    assert not origin_allowed(None, "x", own, ("*",))
    assert origin_allowed("https://any.example", "x", own, ("*",))


def test_allowed_origins_can_come_from_one_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text("channels:\n  web:\n    allowed_origins: ${ORIGINS:-}\n")
    env = {"ORIGINS": "https://a.example.com, https://b.example.com"}
    assert load_settings(path, env=env).channels.web.allowed_origins == (
        "https://a.example.com",
        "https://b.example.com",
    )
    assert load_settings(path, env={}).channels.web.allowed_origins == ()


def test_bad_web_settings_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text(
        "channels:\n  web:\n    allowed_origins: [shop.example.com]\n    strings: {sned: Go}\n"
    )
    with pytest.raises(ConfigError) as problems:
        load_settings(path)
    text = str(problems.value)
    assert "config.yml:3: channels.web.allowed_origins: 'shop.example.com' is not an origin" in text
    assert "channels.web.strings: unknown string 'sned'" in text


# ------------------------------------------------------------------ limits


def test_buckets_refuse_past_the_rate_and_refill() -> None:
    now = [0.0]
    buckets = Buckets(3, 60.0, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(4)] == [True, True, True, False]
    assert buckets.take("b")  # another visitor has their own bucket
    now[0] = 20.0  # a third of the period: one token back
    assert [buckets.take("a") for _ in range(2)] == [True, False]


# --------------------------------------------------------------------- log


@pytest.fixture(params=["memory", "redis", "cluster"])
async def conversation_log(request: pytest.FixtureRequest) -> object:
    if request.param == "memory":
        log: MemoryLog | RedisLog = MemoryLog(keep=5)
    else:
        log = RedisLog(request.getfixturevalue(f"{request.param}_url"), keep=5, ttl=60)
    await log.start()
    yield log
    await log.close()


async def test_the_log_appends_once_and_reads_after_a_cursor(conversation_log: MemoryLog) -> None:
    log = conversation_log
    ids = [await log.append("c", f"d{n}", {"text": f"m{n}"}) for n in range(3)]
    assert all(ids) and await log.append("c", "d1", {"text": "again"}) is None
    rows = await log.read("c", None, 10)
    assert [(i, e["text"]) for i, e in rows] == list(zip(ids, ["m0", "m1", "m2"], strict=True))
    assert [e["text"] for _, e in await log.read("c", ids[0], 10)] == ["m1", "m2"]
    assert await log.read("c", ids[2], 10) == []
    assert [e["text"] for _, e in await log.read("c", None, 2)] == ["m1", "m2"]  # the newest
    assert await log.read("other", None, 10) == []


async def test_the_log_keeps_the_newest_entries(conversation_log: MemoryLog) -> None:
    for n in range(250):  # Redis trims whole stream nodes (about 100 entries) at a time
        await conversation_log.append("c", f"d{n}", {"text": f"m{n}"})
    rows = await conversation_log.read("c", "0-0", 1000)
    assert rows[-1][1]["text"] == "m249" and len(rows) < 250


@pytest.mark.parametrize("kind", ["redis", "cluster"])
async def test_an_append_by_another_process_reaches_the_listener(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """The process holding a widget's socket hears of a reply that another process appended
    (pub/sub; on Redis Cluster, published from inside the append script on any primary)."""
    url = request.getfixturevalue(f"{kind}_url")
    holder, sender = RedisLog(url, keep=5, ttl=60), RedisLog(url, keep=5, ttl=60)
    await holder.start()
    heard: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    try:
        stop = await holder.listen("conv-live", heard.put_nowait)
        async with asyncio.timeout(15):
            # Once a typing signal gets through, the subscription is live (and any signal
            # sent on subscribing came before it).
            while (await _signal_or_none(heard, sender)) != {"kind": "typing"}:
                pass
            while not heard.empty():
                heard.get_nowait()
            for conversation in ("another", "conv-live-2", "conv-live"):
                await sender.append(conversation, "d1", {"text": "from elsewhere"})
            assert await heard.get() == {"kind": "entry"}
        stop()
    finally:
        await holder.close()
        await sender.close()


async def _signal_or_none(
    heard: asyncio.Queue[dict[str, object]], sender: RedisLog
) -> dict[str, object] | None:
    await sender.signal("conv-live", {"kind": "typing"})
    try:
        return await asyncio.wait_for(heard.get(), timeout=0.5)
    except TimeoutError:
        return None


def test_cursor_ids_from_clients_are_checked() -> None:
    assert valid_id("1712-3") == "1712-3"
    for bad in ("", "x-1", "1-", "-1", None, 5, "1-2-3", "9" * 50):
        assert valid_id(bad) is None
