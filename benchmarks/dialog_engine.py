"""Speed of the dialog engine on the example bot, alone and in a whole turn.

  python benchmarks/dialog_engine.py [--rounds N]

1. ``step`` alone: a scripted set of conversations (every example flow, a form with an
   interruption, HTTP results fed back, fallback, handoff and return) replayed over and over
   on pre-parsed messages; steps per second and per-step p50/p99.
2. A whole turn through the runner: the built-in NLU (trained on dialogs/nlu) plus the
   engine, for messages that need no HTTP call; per-turn p50/p99, and the NLU parse alone, so
   that the difference is what the dialog layer costs.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.messages import ConversationRef, CustomerMessage, CustomerRef
from dialogs.base import TurnContext
from dialogs.engine import CallResult, DialogEvent, HttpRequest, UserInput, step
from dialogs.loader import load_bot
from dialogs.model import DialogState
from dialogs.runner import DialogRunner

SCRIPTS = [
    ["hello", "where is my order", "what are your opening hours?", "AB12345", "thanks"],
    ["I need to change the delivery address", "AB12345", "how much is shipping?",
     "12 Baker Street, London", "yes"],
    ["I want to cancel my subscription", "Cancel anyway", "ada@example.com"],
    ["how do I return an item?", "where is my refund", "can I pay with paypal?", "bye"],
    ["xyz", "blorp", "!handoff_returned", "no thanks"],
    ["I want to make a complaint", "The courier left my parcel in the rain", "are you a bot?"],
]  # fmt: skip
ORDER = {"status": "shipped", "eta": "Thursday", "carrier": "UPS"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    from nlu.model import load_or_train

    nlu = load_or_train(sorted(glob.glob("dialogs/nlu/*.yml")), model_dir="")
    bot = load_bot("dialogs/example", env={}).bot
    assert bot is not None
    parsed = {t: nlu.parse(t) for script in SCRIPTS for t in script if not t.startswith("!")}

    # ------------------------------------------------------------------ engine alone
    timings: list[float] = []
    for _ in range(args.rounds):
        for script in SCRIPTS:
            state = DialogState(slots=dict(bot.slots))
            for text in script:
                event: UserInput | DialogEvent | CallResult | None
                if text.startswith("!"):
                    event, parse = DialogEvent(name="handoff_returned"), None
                else:
                    event, parse = UserInput(text=text, channel="api"), parsed[text]
                while event is not None:
                    t0 = time.perf_counter()
                    state, actions = step(bot, state, event, parse)
                    timings.append(time.perf_counter() - t0)
                    calls = [a for a in actions if isinstance(a, HttpRequest)]
                    event = (
                        CallResult(action=calls[0].action, ok=True, status=200, data=ORDER)
                        if calls
                        else None
                    )
    total = sum(timings)
    print(f"engine step alone: {len(timings)} steps in {total:.2f} s = "
          f"{len(timings) / total:,.0f} steps/s; p50 {pct(timings, 0.5) * 1e6:.0f} µs, "
          f"p99 {pct(timings, 0.99) * 1e6:.0f} µs, max {max(timings) * 1e6:.0f} µs")  # fmt: skip

    # ------------------------------------------------------------------ whole turn
    from nlu.model import BuiltinBackend

    runner = DialogRunner(bot, BuiltinBackend(nlu))
    texts = [t for t in parsed if "AB12345" not in t and t != "ada@example.com"]
    turn: list[float] = []
    parse_only: list[float] = []

    async def turns() -> None:
        context = TurnContext(channel="api")
        for _ in range(max(1, args.rounds // 3)):
            for text in texts:
                message = CustomerMessage(
                    event_id="b",
                    conversation=ConversationRef(channel="api", chat_id="c"),
                    customer=CustomerRef(channel="api", user_id="u"),
                    text=text,
                )
                t0 = time.perf_counter()
                await runner.respond({"v": 1, "seen": True}, message, context)
                turn.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                nlu.parse(text)
                parse_only.append(time.perf_counter() - t0)

    asyncio.run(turns())
    print(f"whole turn (NLU + engine): {len(turn)} turns; p50 {pct(turn, 0.5) * 1e3:.2f} ms, "
          f"p99 {pct(turn, 0.99) * 1e3:.2f} ms")  # fmt: skip
    print(f"NLU parse alone:           p50 {pct(parse_only, 0.5) * 1e3:.2f} ms, "
          f"p99 {pct(parse_only, 0.99) * 1e3:.2f} ms")  # fmt: skip
    extra = statistics.median(turn) - statistics.median(parse_only)
    print(f"dialog layer besides NLU:  {extra * 1e6:.0f} µs per turn (median difference)")


if __name__ == "__main__":
    main()
