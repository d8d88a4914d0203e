"""The review inbox in Redis: grouping by normalised text, bounds and TTL; what a turn puts in
it through a real gateway (Telegram, the example bot); and ``frontdesk review list / label /
apply`` writing valid YAML that hot reload picks up."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from dialogs.runner import DialogRunner
from frontdesk.app import create_app
from frontdesk.assembly import build_dialog, build_reloader
from frontdesk.config import load_settings
from gateway.http import GATEWAY
from gateway.review.inbox import RedisReviewInbox, normalise, review_inbox
from nlu.result import NluBackend
from tests.handoff.conftest import Client, Desk, Http, channels_for, settings_for, until
from tests.knowledge.conftest import desk

__all__ = ["desk"]
ROOT = Path(__file__).parents[2]


async def test_items_group_by_normalised_text_bounded_with_ttl(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    inbox = RedisReviewInbox(client, max_items=2, ttl=3600)
    assert (
        normalise("Where's my parcel #123?")
        == normalise("wheres my PARCEL 456")
        == ("wheres my parcel 000")
    )
    first = await inbox.add("Where's my parcel #123?", "miss", "telegram:1", [("faq:x", 0.2)],
                            at=100.0)  # fmt: skip
    again = await inbox.add("wheres my parcel 456", "handoff", "sms:+1", [], at=200.0)
    assert first == again
    item = await inbox.get(first or "")
    assert item is not None
    assert (item.text, item.count, item.first_seen, item.last_seen) == (
        "wheres my parcel 456", 2, 100.0, 200.0,
    )  # fmt: skip
    assert item.kinds == {"miss": 1, "handoff": 1}
    assert item.conversations == ("sms:+1", "telegram:1")
    assert 0 < await client.ttl(f"fd:{{review}}:item:{first}") <= 3600
    await inbox.add("second question", "miss", "c", [], at=300.0)
    await inbox.add("third question", "miss", "c", [], at=400.0)  # over the bound: oldest goes
    assert [i.text for i in await inbox.items()] == ["third question", "second question"]
    assert await inbox.get(first or "") is None
    assert [i.text for i in await inbox.items(since=350.0)] == ["third question"]
    await client.aclose()


@pytest.fixture
def project(tmp_path: Path, redis_url: str) -> Path:
    """A copy of the example bot (dialogs, NLU data, knowledge) with a config on Redis."""
    shutil.copytree(ROOT / "dialogs" / "example", tmp_path / "bot",
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))  # fmt: skip
    shutil.copytree(ROOT / "dialogs" / "nlu", tmp_path / "nlu")
    (tmp_path / "config.yml").write_text(
        f"store: {{url: '{redis_url}'}}\n"
        "dialogs: {enabled: true, path: bot}\n"
        "nlu: {data: ['nlu/*.yml'], model_dir: models}\n"
        "knowledge: {encoder: none}\n"
    )
    return tmp_path


def frontdesk(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


@pytest.fixture
async def runner(project: Path, nlu: NluBackend) -> AsyncIterator[DialogRunner]:
    settings = load_settings(project / "config.yml")
    runner = build_dialog(settings, nlu)
    yield runner
    await runner.close()


@pytest.fixture
async def client(
    desk: Desk, runner: DialogRunner, aiohttp_client: Client, redis_url: str
) -> AsyncIterator[Http]:
    desk.settings = settings_for(redis_url, *desk.urls)
    app = create_app(desk.settings, dialog=runner, channels=channels_for(desk.settings))
    desk.client = await aiohttp_client(app)
    yield desk.client


def said(desk: Desk) -> list[str]:
    return [c.params["text"] for c in desk.telegram.of("sendMessage")]


async def test_misses_and_no_answers_reach_the_inbox_and_labels_apply(
    desk: Desk, client: Http, project: Path, runner: DialogRunner
) -> None:
    inbox = review_inbox(desk.gateway.store)
    await desk.telegram_says("hi")
    await until(lambda: len(said(desk)) >= 1)
    await desk.telegram_says("is there a warranty?")
    await until(lambda: len(said(desk)) >= 3)  # answer + feedback question
    await desk.telegram_says("no")  # a miss
    await until(lambda: len(said(desk)) >= 4)
    await desk.telegram_says("Do you do engraving?")  # the second miss in a row hands off
    await until(lambda: desk.slack.cards())
    items = {i.text.lower(): i for i in await inbox.items()}
    engraving = items["do you do engraving?"]
    assert engraving.count == 2  # missed, and the message that triggered the handoff
    assert engraving.kinds == {"miss": 1, "handoff": 1}
    assert engraving.conversations == ("telegram:1111111",)
    assert any(name.startswith("faq:") for name, _ in engraving.guesses)
    warranty_item = items["is there a warranty?"]
    assert warranty_item.kinds == {"no": 1}
    assert warranty_item.guesses[0][0] == "faq:warranty"  # the answer that did not help

    # frontdesk stats: the knowledge base answered 1 of 2 questions, and that answer was a "No"
    stats = frontdesk(project, "stats", "--since", "1h")
    assert stats.returncode == 0, stats.stderr
    assert (
        "knowledge base:      answered 50% of 2 questions; 0% of 1 answers rated helpful"
        in stats.stdout
    )

    listed = frontdesk(project, "review", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert rows[0]["text"] == "Do you do engraving?" and rows[0]["count"] == 2
    assert frontdesk(project, "review", "label", engraving.id, "--new-faq", "--answer",
                     "Yes, on metal items: £5 for up to 20 letters.",
                     "--faq-id", "engraving").returncode == 0  # fmt: skip
    warranty = warranty_item.id
    assert frontdesk(project, "review", "label", warranty, "--intent", "no_such_intent"
                     ).returncode == 0  # fmt: skip
    applied = frontdesk(project, "review", "apply")
    assert applied.returncode == 0, applied.stderr
    assert '+  - id: "engraving"' in applied.stdout  # the diff, shown first
    assert f"skipped {warranty}: no NLU file holds intent no_such_intent" in applied.stderr
    assert frontdesk(project, "validate").returncode == 0
    assert frontdesk(project, "review", "label", warranty, "--faq", "warranty").returncode == 0
    assert frontdesk(project, "review", "apply").returncode == 0
    faq = (project / "bot" / "knowledge" / "faq.yml").read_text()
    assert '      - "is there a warranty?"' in faq  # a phrasing of the warranty entry

    # Hot reload picks the new entry up: the question is answered now.
    settings = load_settings(project / "config.yml")
    reloader = build_reloader(settings, runner)
    assert reloader is not None and await reloader.reload() == []
    assert runner.bot.knowledge is not None
    found = runner.bot.knowledge.kb.retriever.ask("do you do engraving?").answer
    assert found is not None and found.entry.id == "engraving"
    assert found.entry.answer == "Yes, on metal items: £5 for up to 20 letters."


async def test_apply_refuses_what_validate_would_reject(project: Path, redis_url: str) -> None:
    store_settings = load_settings(project / "config.yml")
    client = aioredis.from_url(redis_url)
    inbox = RedisReviewInbox(client)
    ident = await inbox.add("hello {broken", "miss", "c", [])
    await inbox.label(ident or "", {"new_faq": {"answer": "Hi {not_a_slot}", "id": "hello"}})
    before = (project / "bot" / "knowledge" / "faq.yml").read_text()
    done = frontdesk(project, "review", "apply")
    assert done.returncode == 1
    assert "answer of hello uses unknown slot not_a_slot" in done.stderr
    assert "refused: frontdesk validate would reject this; nothing was written" in done.stderr
    assert (project / "bot" / "knowledge" / "faq.yml").read_text() == before
    assert store_settings.knowledge.folder(store_settings.dialogs.path).endswith("knowledge")
    await client.aclose()


_ = GATEWAY


async def test_teach_the_bot_drafts_an_entry_live_only_after_approval(
    desk: Desk, client: Http, project: Path, runner: DialogRunner
) -> None:
    from tests.knowledge.test_suggestions import press_in_thread

    await desk.telegram_says("hi")
    await until(lambda: len(said(desk)) >= 1)
    await desk.telegram_says("Do you do engraving?")
    await until(lambda: len(said(desk)) >= 2)
    await desk.telegram_says("can you engrave my ring?")  # second miss: handoff
    card_ts = await desk.card_ts()
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    await desk.agent_says("Yes: we engrave metal items for £5.", "UALICE", card_ts)
    await until(lambda: any("we engrave metal items" in t for t in said(desk)))
    await desk.press("handoff:resolve", "UALICE", "alice", card_ts)
    resolved = await until(
        lambda: [p for p in desk.slack.posts() if str(p.get("text")).startswith("Resolved by")]
    )
    values = [e["value"] for b in resolved[0]["blocks"] if b["type"] == "actions"
              for e in b["elements"]]  # fmt: skip
    assert values == ["handoff:teach"]
    await press_in_thread(desk, "handoff:teach", "UALICE", card_ts, "1.000001")
    [note] = await until(lambda: [t for t in desk.slack.thread(card_ts) if "drafted" in t])
    inbox = review_inbox(desk.gateway.store)
    [draft] = [i for i in await inbox.items() if i.kinds.get("teach")]
    assert draft.text == "can you engrave my ring?"
    assert draft.label == {"new_faq": {"answer": "Yes: we engrave metal items for £5.",
                                       "id": None}, "draft": True}  # fmt: skip
    assert f"frontdesk review approve {draft.id}" in note

    faq = project / "bot" / "knowledge" / "faq.yml"
    before = faq.read_text()
    skipped = frontdesk(project, "review", "apply")  # never live without approval
    assert f"skipped {draft.id}: a draft (Teach the bot)" in skipped.stderr
    assert faq.read_text() == before
    approved = frontdesk(project, "review", "approve", draft.id, "--faq-id", "engraving")
    assert approved.returncode == 0, approved.stderr
    applied = frontdesk(project, "review", "apply")
    assert applied.returncode == 0, applied.stderr
    assert '+  - id: "engraving"' in applied.stdout
    reloader = build_reloader(load_settings(project / "config.yml"), runner)
    assert reloader is not None and await reloader.reload() == []
    assert runner.bot.knowledge is not None
    found = runner.bot.knowledge.kb.retriever.ask("can you engrave my ring").answer
    assert found is not None and found.entry.id == "engraving"


def test_a_dialog_that_does_not_try_to_understand_leaves_nothing_to_review() -> None:
    """The echo dialog (no debug) misses nothing; a dialog that tried and found no intent does."""
    from gateway.review.record import to_review

    assert to_review("where is my parcel", {}, False, low_intent=0.65) == []
    assert to_review("where is my parcel", {"intent": None}, False, low_intent=0.65) == [
        ("miss", "where is my parcel", [])
    ]
    assert [kind for kind, *_ in to_review("a person please", {}, True, low_intent=0.65)] == [
        "handoff"
    ]
