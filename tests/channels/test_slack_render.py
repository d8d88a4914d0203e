"""Rendering replies as Block Kit: buttons, escaping of customer text, long texts."""

from __future__ import annotations

import re

import pytest

from channels.base import SendError
from channels.slack import escape, render
from channels.slack.render import SECTION_LIMIT, TEXT_LIMIT
from common.messages import Attachment, Button, ConversationRef, CustomerRef, OutboundMessage

# What Slack parses in message text: mentions (<@U1>, <!channel>, <!here>, <#C1>) and links.
SLACK_MARKUP = re.compile(r"<[^>]*>")


def message(text: str = "", *buttons: Button, **extra: object) -> OutboundMessage:
    return OutboundMessage(
        key="Ev1#0",
        conversation=ConversationRef(channel="slack", chat_id="C111", thread_id="1.2"),
        customer=CustomerRef(channel="slack", user_id="T111:W111"),
        text=text,
        buttons=buttons,
        **extra,  # type: ignore[arg-type]
    )


def all_texts(blocks: tuple[dict[str, object], ...]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]  # type: ignore[index]


def test_text_and_buttons() -> None:
    buttons = (
        Button(title="Track order", payload="/track"),
        Button(title="Agent", payload="/agent"),
    )
    [post] = render(message("*How* can I help?", *buttons))
    assert post.channel == "C111"
    assert post.thread_ts == "1.2"
    assert post.text == "*How* can I help?"
    section, actions = post.blocks
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": "*How* can I help?"}}
    assert actions["type"] == "actions"
    elements = actions["elements"]
    assert [(e["text"]["text"], e["value"]) for e in elements] == [
        ("Track order", "/track"),
        ("Agent", "/agent"),
    ]
    assert all(e["type"] == "button" and e["text"]["type"] == "plain_text" for e in elements)
    assert len({e["action_id"] for e in elements}) == 2


def test_customer_text_cannot_ping_or_forge_a_link() -> None:
    hostile = "<!channel> hi <http://evil|click> & co <@U123> <!here> <#C999>"
    [post] = render(message(f"echo: {hostile}"))
    for text in [post.text, *all_texts(post.blocks)]:
        assert SLACK_MARKUP.search(text) is None, text
        assert "<" not in text and ">" not in text
        assert text == (
            "echo: &lt;!channel&gt; hi &lt;http://evil|click&gt; &amp; co &lt;@U123&gt; "
            "&lt;!here&gt; &lt;#C999&gt;"
        )


def test_escape_is_slacks_three_entities() -> None:
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert escape("&amp;") == "&amp;amp;"  # shown literally as "&amp;"


def test_long_text_is_split_on_word_boundaries_within_section_limit() -> None:
    words = [f"word{n}" for n in range(2000)]
    text = " ".join(words)
    [post] = render(message(text))
    sections = all_texts(post.blocks)
    assert len(sections) > 1
    assert all(len(s) <= SECTION_LIMIT for s in sections)
    assert " ".join(sections).split() == words  # nothing lost, no word cut


def test_escaping_never_pushes_a_section_over_the_limit() -> None:
    text = " ".join(["<&>"] * 2000)  # each char becomes 4-5
    [post] = render(message(text))
    sections = all_texts(post.blocks)
    assert all(len(s) <= SECTION_LIMIT for s in sections)
    assert " ".join(sections).split() == ["&lt;&amp;&gt;"] * 2000


def test_very_long_text_spans_posts_with_buttons_on_the_last() -> None:
    text = " ".join(f"w{n:05d}" for n in range(20000))  # 140,000 characters
    posts = render(message(text, Button(title="More", payload="/more")))
    assert len(posts) > 1
    assert all(len(p.text) <= TEXT_LIMIT and len(p.blocks) <= 50 for p in posts)
    assert [b["type"] for p in posts[:-1] for b in p.blocks if b["type"] != "section"] == []
    assert posts[-1].blocks[-1]["type"] == "actions"
    assert " ".join(s for p in posts for s in all_texts(p.blocks)) == text


def test_many_buttons_are_spread_over_actions_blocks_of_25() -> None:
    buttons = [Button(title=f"Option {n}", payload=f"/o{n}") for n in range(30)]
    [post] = render(message("Pick one", *buttons))
    actions = [b for b in post.blocks if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 5]
    ids = [e["action_id"] for a in actions for e in a["elements"]]
    assert len(set(ids)) == 30
    assert len({a["block_id"] for a in actions}) == 2


def test_buttons_without_text_get_a_fallback() -> None:
    [post] = render(message("", Button(title="Yes", payload="y"), Button(title="No", payload="n")))
    assert post.text == "Yes / No"
    assert [b["type"] for b in post.blocks] == ["actions"]


def test_long_button_title_is_shortened_and_long_payload_refused() -> None:
    [post] = render(message("x", Button(title="t" * 100, payload="p")))
    assert len(post.blocks[1]["elements"][0]["text"]["text"]) == 75
    with pytest.raises(SendError) as info:
        render(message("x", Button(title="t", payload="p" * 2001)))
    assert info.value.kind == "permanent"


def test_attachments() -> None:
    attachments = (
        Attachment(kind="image", url="https://cdn.example/a.png", name="map"),
        Attachment(kind="file", url="https://cdn.example/b.pdf?x=1&y=2", name="<terms>"),
    )
    [post] = render(message("Here", attachments=attachments))
    image, link = post.blocks[1:]
    assert image == {"type": "image", "image_url": "https://cdn.example/a.png", "alt_text": "map"}
    assert link["text"]["text"] == "<https://cdn.example/b.pdf?x=1&amp;y=2|&lt;terms&gt;>"


def test_nothing_to_send_is_permanent() -> None:
    with pytest.raises(SendError) as info:
        render(message("   "))
    assert info.value.kind == "permanent"
