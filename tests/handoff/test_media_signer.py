"""The media proxy's signed URLs refuse junk in ``exp`` and ``sig`` with 403, never a 500
(issue 16: ``exp=²`` passed ``isdigit()`` and broke ``int()``; so did 5,000 digits)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from gateway.handoff.media import MediaRefused, MediaSigner

FILE = "https://files.slack.com/files-pri/T1-F1/invoice.pdf"
NOW = 1_700_000_000.0


def signer() -> MediaSigner:
    return MediaSigner(
        key=b"k" * 32,
        public_url="https://gateway.example.com",
        ttl=3600,
        origins=frozenset({("https", "files.slack.com")}),
    )


def signed() -> tuple[str, str, str]:
    url = urlsplit(signer().url_for(FILE, NOW))
    query = dict(parse_qsl(url.query))
    return url.path.rsplit("/", 1)[1], query["exp"], query["sig"]


def test_a_signed_url_verifies() -> None:
    ident, exp, sig = signed()
    assert signer().verify(ident, exp, sig, NOW) == FILE


@pytest.mark.parametrize(
    "exp",
    ["²", "9" * 5000, "١٧٠٠٠٠٣٦٠٠", "", "-1", "1e9", " 1"],
    ids=["superscript", "5000 digits", "arabic-indic", "empty", "negative", "float", "space"],
)
def test_junk_exp_is_refused_as_a_bad_signature(exp: str) -> None:
    ident, _, sig = signed()
    with pytest.raises(MediaRefused) as refused:
        signer().verify(ident, exp, sig, NOW)
    assert refused.value.status == 403


@pytest.mark.parametrize(
    "sig", ["é" * 64, "\udcff" * 64, ""], ids=["non-ascii", "surrogate", "empty"]
)
def test_junk_sig_is_refused_as_a_bad_signature(sig: str) -> None:
    ident, exp, _ = signed()
    with pytest.raises(MediaRefused) as refused:
        signer().verify(ident, exp, sig, NOW)
    assert refused.value.status == 403
