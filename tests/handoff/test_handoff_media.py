"""Files an agent shares in the thread reach the customer through the media proxy: a signed,
expiring URL on our server that streams the file from Slack with the bot token."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from gateway.handoff.media import MediaRefused, MediaSigner
from tests.handoff.conftest import PHONE, PUBLIC_URL, Client, Desk, until
from tests.support.slack_agents import TOKEN

PDF = b"%PDF-1.4\n% invoice 12345\n" + bytes(range(256)) * 64


def local(url: str) -> str:
    """Our public URL as a path for the test client (the app is served locally)."""
    assert url.startswith(PUBLIC_URL + "/media/slack/"), url
    return url.removeprefix(PUBLIC_URL)


def with_query(path: str, **changes: str) -> str:
    parts = urlsplit(path)
    query = {**dict(parse_qsl(parts.query)), **changes}
    return f"{parts.path}?{urlencode(query)}"


async def test_an_agents_file_reaches_a_telegram_customer_through_a_signed_url(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    client = await desk.open(aiohttp_client, redis_url)
    await desk.telegram_says("agent")
    card_ts = await desk.card_ts()
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    shared = desk.slack.share_file("invoice.pdf", PDF, "application/pdf")
    await desk.agent_says("Here is your invoice", "UALICE", card_ts, files=[shared])

    [document] = await until(lambda: desk.telegram.of("sendDocument"))
    url = document.params["document"]
    assert url.startswith(f"{PUBLIC_URL}/media/slack/")
    assert shared["url_private"] not in url and TOKEN not in url
    await until(
        lambda: (
            "Alice: Here is your invoice"
            in [c.params["text"] for c in desk.telegram.of("sendMessage")]
        )
    )

    path = local(url)
    response = await client.get(path)
    assert response.status == 200
    assert await response.read() == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert TOKEN not in str(response.headers)
    assert desk.slack.file_fetches[-1]["Authorization"] == f"Bearer {TOKEN}"

    sig = dict(parse_qsl(urlsplit(path).query))["sig"]
    tampered = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    assert (await client.get(with_query(path, sig=tampered))).status == 403
    later = str(int(time.time()) + 7 * 24 * 3600)
    assert (await client.get(with_query(path, exp=later))).status == 403  # exp is signed
    assert (await client.get(path.split("?")[0])).status == 403  # unsigned

    media = desk.gateway.handoff.media  # type: ignore[union-attr]
    assert media is not None
    expired = media.url_for(shared["url_private"], time.time() - 2 * 24 * 3600)
    assert (await client.get(local(expired))).status == 410
    fetches = len(desk.slack.file_fetches)
    assert (await client.get(with_query(path, sig="0" * 64))).status == 403
    assert len(desk.slack.file_fetches) == fetches  # refused before anything reaches Slack


async def test_an_agents_file_reaches_an_sms_customer_as_mms_media(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    client = await desk.open(aiohttp_client, redis_url)
    await desk.sms_says("agent")
    card_ts = await desk.card_ts()
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    shared = desk.slack.share_file("parcel.png", b"\x89PNG\r\n\x1a\n" + b"p" * 500, "image/png")
    await desk.agent_says("Photo of your parcel", "UALICE", card_ts, files=[shared])

    [mms] = await until(lambda: [r for r in desk.twilio.accepted if r.field("MediaUrl")])
    assert mms.field("To") == PHONE
    url = mms.field("MediaUrl") or ""
    response = await client.get(local(url))
    assert response.status == 200
    assert await response.read() == b"\x89PNG\r\n\x1a\n" + b"p" * 500


@pytest.mark.parametrize(
    ("exp", "sig"),
    [
        ("²", "0" * 64),  # a Unicode digit
        ("9" * 5000, "0" * 64),  # more digits than int() takes
        ("1" * 13, "0" * 64),
        ("", ""),
        ("1800000000", "é" * 64),  # a signature that is not ASCII
    ],
)
def test_junk_expiry_or_signature_is_refused_not_a_crash(exp: str, sig: str) -> None:
    signer = MediaSigner(
        key=b"k" * 32, public_url=PUBLIC_URL, ttl=3600, origins=frozenset({("https", "x")})
    )
    with pytest.raises(MediaRefused) as refused:
        signer.verify("aHR0cHM6Ly94L2Y", exp, sig, time.time())
    assert refused.value.status == 403


def test_a_signed_id_that_is_not_base64_is_refused() -> None:
    signer = MediaSigner(
        key=b"k" * 32, public_url=PUBLIC_URL, ttl=3600, origins=frozenset({("https", "x")})
    )
    exp = int(time.time()) + 60
    ident = "ü-not-base64"
    with pytest.raises(MediaRefused) as refused:
        signer.verify(ident, str(exp), signer._sign(ident, exp), time.time())
    assert refused.value.status == 403
