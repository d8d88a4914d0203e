"""Phone numbers and e-mail addresses hidden from viewers (the admin role sees them)."""

from __future__ import annotations

import re

from common.logging import mask_text

_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b")
_DIGITS = re.compile(r"(?<![\w])(\+?\d)[\d\s().-]{5,}(\d{2})(?![\w])")


def mask(text: str) -> str:
    """``+15555550123`` -> ``+1******23``; ``ann@example.com`` -> ``a***@***``."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@***", mask_text(text))
    return _DIGITS.sub(lambda m: f"{m.group(1)}******{m.group(2)}", text)


def shown(text: str, unmasked: bool) -> str:
    return text if unmasked else mask(text)
