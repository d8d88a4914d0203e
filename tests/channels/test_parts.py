"""Resuming multi-part sends: a retried message skips the parts that already went out."""

from __future__ import annotations

import pytest

from channels.base import SendError
from channels.parts import Progress, Recent, send_parts


class Platform:
    """Accepts parts and answers their ids; ``failures`` maps a part to what its next call
    raises (once)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.delivered: list[str] = []
        self.failures: dict[str, BaseException] = {}

    async def send(self, part: str) -> str:
        self.calls.append(part)
        failure = self.failures.pop(part, None)
        if failure is not None:
            raise failure
        self.delivered.append(part)
        return f"id-{part}-{len(self.delivered)}"


async def test_a_retry_resumes_at_the_part_that_failed() -> None:
    platform, progress = Platform(), Recent[tuple[str, ...]]()
    platform.failures["two"] = SendError("transient", "HTTP 500")
    parts = ["one", "two", "three"]
    with pytest.raises(SendError):
        await send_parts("m1", parts, platform.send, progress)
    ids = await send_parts("m1", parts, platform.send, progress)
    assert platform.calls == ["one", "two", "two", "three"]
    assert platform.delivered == parts  # "one" went out once
    assert ids == ["id-one-1", "id-two-2", "id-three-3"]  # all parts, in order


async def test_progress_survives_any_exception_from_a_part() -> None:
    platform, progress = Platform(), Recent[tuple[str, ...]]()
    platform.failures["two"] = RuntimeError("cancelled between two parts")
    with pytest.raises(RuntimeError):
        await send_parts("m1", ["one", "two"], platform.send, progress)
    await send_parts("m1", ["one", "two"], platform.send, progress)
    assert platform.delivered == ["one", "two"]


async def test_a_message_sent_in_full_is_forgotten() -> None:
    platform, progress = Platform(), Recent[tuple[str, ...]]()
    platform.failures["two"] = SendError("rate_limited", "429", retry_after=1.0)
    parts = ["one", "two"]
    with pytest.raises(SendError):
        await send_parts("m1", parts, platform.send, progress)
    await send_parts("m1", parts, platform.send, progress)
    assert "m1" not in progress and len(progress) == 0
    await send_parts("m1", parts, platform.send, progress)  # a new send starts from part one
    assert platform.delivered == ["one", "two", "one", "two"]


@pytest.mark.parametrize(("forget", "resent"), [(False, ["two"]), (True, ["one", "two"])])
async def test_a_permanent_failure_keeps_the_progress_unless_told_to_forget_it(
    forget: bool, resent: list[str]
) -> None:
    platform, progress = Platform(), Recent[tuple[str, ...]]()
    platform.failures["two"] = SendError("permanent", "blocked")
    with pytest.raises(SendError):
        await send_parts("m1", ["one", "two"], platform.send, progress, forget_on_permanent=forget)
    await send_parts("m1", ["one", "two"], platform.send, progress, forget_on_permanent=forget)
    assert platform.delivered == ["one", *resent]


async def test_only_the_most_recent_messages_are_remembered() -> None:
    platform, progress = Platform(), Recent[tuple[str, ...]](capacity=2)
    for key in ("m1", "m2", "m3"):  # each fails after its first part
        platform.failures[f"{key}b"] = SendError("transient", "timeout")
        with pytest.raises(SendError):
            await send_parts(key, [f"{key}a", f"{key}b"], platform.send, progress)
    assert len(progress) == 2 and "m1" not in progress
    for key in ("m1", "m3"):
        await send_parts(key, [f"{key}a", f"{key}b"], platform.send, progress)
    # m1 was forgotten, so its first part goes out again; m3 resumes.
    assert platform.delivered == ["m1a", "m2a", "m3a", "m1a", "m1b", "m3b"]


def test_recent_forgets_the_least_recently_used_key() -> None:
    recent: Progress = Recent(capacity=2)
    recent.put("a", ("1",))
    recent.put("b", ("2",))
    assert recent.get("a") == ("1",)  # a is now more recent than b
    recent.put("c", ("3",))
    assert ("a" in recent, "b" in recent, "c" in recent) == (True, False, True)
    assert recent.get("b") is None
    with pytest.raises(ValueError):
        Recent(capacity=0)
