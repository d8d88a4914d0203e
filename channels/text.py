"""Text helpers shared by adapters: splitting at a channel's limit, numbered options."""

from __future__ import annotations

from collections.abc import Sequence

from common.messages import Button


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` characters, on paragraph, line or word
    boundaries where possible; a single word longer than ``limit`` is cut."""
    if limit < 1:
        raise ValueError("limit must be positive")
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = -1
        for sep in ("\n\n", "\n", " "):
            cut = window.rfind(sep)
            if cut > 0:
                break
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def numbered_options(text: str, buttons: Sequence[Button]) -> str:
    """For channels without buttons: the text followed by ``1. Title`` lines."""
    if not buttons:
        return text
    lines = [f"{n}. {b.title}" for n, b in enumerate(buttons, 1)]
    hint = "Reply with a number."
    return "\n".join(filter(None, [text, "", *lines, "", hint]))
