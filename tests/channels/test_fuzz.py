"""Property-based fuzz of every webhook adapter's verify + parse (issue 16).

Bodies are random, or authentic fixtures (tests/payloads) with a few values replaced by random
JSON (wrong types, huge or non-finite numbers, lone surrogates, deep nesting), signed the way
the platform signs them. Whatever comes in, an adapter either rejects the request with
``WebhookRejected`` (a 4xx) or returns events that cross the durable queue unchanged
(``encode_event`` / ``decode_event``). Bounded: a few hundred examples per route, no deadline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.base import WebhookRejected, WebhookRequest
from common.messages import decode_event, encode_event
from tests.channels.hostile import PAYLOADS, SLACK_SECRET, Target, targets

EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,  # the same examples on every run: a failure is reproducible
)
ROUTES = targets()

TRICKY_TEXT = st.sampled_from(
    ["\ud800", "a\udfffb", "1e999", "NaN", "-Infinity", "²", "١٢٣", "", " ", "é" * 50, "\x00"]
)
TEXT = st.text(max_size=20) | st.text(st.characters(categories=["Cs", "Lo", "Nd"]), max_size=5)
NUMBERS = (
    st.integers(-(2**70), 2**70)
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([91, -181, 0, -1, 2**63])
)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT | TRICKY_TEXT
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            found.append((*prefix, key))
            found.extend(_paths(child, (*prefix, key)))
    return found


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return doc


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Any]) -> Any:
    """A seed with one to three values replaced (or a key added) by random JSON."""
    doc = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if paths and draw(st.booleans()):
            doc = _replace(doc, draw(st.sampled_from(paths)), draw(JSON_VALUES))
        elif isinstance(doc, dict):
            doc = {**doc, draw(TEXT): draw(JSON_VALUES)}
    return doc


def _json_seeds(folder: str, *prefixes: str) -> list[Any]:
    files = sorted((PAYLOADS / folder).glob("*.json"))
    return [
        json.loads(f.read_text())
        for f in files
        if f.name[:2].isdigit() and (not prefixes or f.name.startswith(prefixes))
    ]


def _form_seeds(*names: str) -> list[dict[str, str]]:
    return [
        dict(parse_qsl((PAYLOADS / name).read_text().strip(), keep_blank_values=True))
        for name in names
    ]


API_SEEDS = [
    {"id": "e1", "conversation_id": "c1", "user_id": "u1", "text": "hello"},
    {"id": 7, "conversation_id": "c1", "user_id": "u1", "user_name": "Ann", "payload": "/buy"},
]
TELEGRAM_SEEDS = _json_seeds("telegram")
SLACK_SEEDS = _json_seeds("slack", "02", "03", "04", "05", "06")
WHATSAPP_SEEDS = _json_seeds("whatsapp_cloud")
TWILIO_INBOUND = [
    json.loads(p.read_text()) for p in sorted((PAYLOADS / "twilio").glob("0[123]*.params.json"))
]
TWILIO_STATUS = [
    json.loads(p.read_text()) for p in sorted((PAYLOADS / "twilio").glob("0[456]*.params.json"))
]
SLACK_ACTIONS = [json.loads((PAYLOADS / "slack" / "07_block_actions.payload.json").read_text())]
SLACK_COMMANDS = _form_seeds(
    "slack/08_slash_command.form.txt", "slack/08b_slash_command_docs.form.txt"
)


def _slack_sign(body: bytes) -> dict[str, str]:
    """Slack's v0 signature computed over raw bytes (the SDK's signer wants UTF-8 text)."""
    timestamp = str(int(time.time()))
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(SLACK_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def _request(target: Target, body: bytes) -> WebhookRequest:
    if target.name.startswith("slack"):
        headers = {"content-type": target.content_type, **_slack_sign(body)}
        return target.request(body, headers)
    return target.request(body)


def check(target: Target, body: bytes) -> None:
    """The property: a signed body is rejected with a 4xx, or all its events round-trip."""
    request = _request(target, body)
    try:
        target.adapter.verify(request)
        events = target.adapter.parse(request)
    except WebhookRejected as exc:
        assert 400 <= exc.status < 500, exc
        return
    for event in events:
        assert decode_event(encode_event(event)) == event


def _dump(value: Any) -> bytes:
    return json.dumps(value).encode()  # ensure_ascii: lone surrogates travel as \ud800


def _form(params: Any) -> bytes:
    if not isinstance(params, dict):
        params = {"Body": json.dumps(params)}
    pairs = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode()


JSON_ROUTES = {
    "api": API_SEEDS,
    "telegram": TELEGRAM_SEEDS,
    "slack_events": SLACK_SEEDS,
    "slack_agents": SLACK_SEEDS,
    "whatsapp": WHATSAPP_SEEDS,
}


@pytest.mark.parametrize("route", list(JSON_ROUTES))
@FUZZ
@given(data=st.data())
def test_mutated_json_fixtures(route: str, data: st.DataObject) -> None:
    doc = data.draw(mutated(JSON_ROUTES[route]))
    check(ROUTES[route], _dump(doc))


@pytest.mark.parametrize("route", [*JSON_ROUTES, "slack_forms", "twilio", "twilio_status"])
@FUZZ
@given(body=st.binary(max_size=200) | JSON_VALUES.map(_dump))
def test_random_bodies(route: str, body: bytes) -> None:
    check(ROUTES[route], body)


@FUZZ
@given(data=st.data())
def test_mutated_slack_interactivity_and_commands(data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        payload = data.draw(mutated(SLACK_ACTIONS))
        body = urlencode({"payload": json.dumps(payload)}).encode()
    else:
        body = _form(data.draw(mutated(SLACK_COMMANDS)))
    check(ROUTES["slack_forms"], body)
    check(ROUTES["slack_agents"], body)


@pytest.mark.parametrize(
    "route, seeds", [("twilio", TWILIO_INBOUND), ("twilio_status", TWILIO_STATUS)]
)
@FUZZ
@given(data=st.data())
def test_mutated_twilio_forms(route: str, seeds: list[Any], data: st.DataObject) -> None:
    params = data.draw(mutated(seeds))
    if data.draw(st.booleans()):  # a location whose coordinates are anything at all
        params = {**params, "Latitude": data.draw(TEXT | TRICKY_TEXT), "Longitude": "2.35"}
    check(ROUTES[route], _form(params))


def test_the_seeds_themselves_are_accepted() -> None:
    """The fuzz starts from real traffic: every seed parses into events that round-trip."""
    for route, seeds in JSON_ROUTES.items():
        for seed in seeds:
            check(ROUTES[route], _dump(seed))
    assert TELEGRAM_SEEDS and SLACK_SEEDS and WHATSAPP_SEEDS and TWILIO_INBOUND and TWILIO_STATUS
