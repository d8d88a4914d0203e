"""The pure engine, one behaviour per test: every step type, forms, interruptions, fallback,
escalation rules, handoff return, and the state across a reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs.engine import HandOffAction, HttpRequest, SayAction, Trace
from dialogs.model import Bot, from_json
from tests.dialogs.helpers import Chat, bot_from

BOT = r"""
bot:
  fallback_limit: 2
slots:
  order_id: {}
  status: {}
  color: {}
  note: {}
  count: {initial: 0}
  tier: {initial: standard}
templates:
  hello: ["Hello A", "Hello B"]
  ask_order: "Order number?"
  bad_order: "Not an order number."
  gave_up: "Giving up."
  status: "Order {order_id} is {status}."
  not_found: "No order {order_id}."
  down: "Service down ({http_status})."
  ask_color: {text: "Which color?", buttons: [{title: Help, payload: /talk_to_human}]}
  ask_note: "Any note?"
  noted: "Noted {note} for {color}."
  hours: "Open 9-5."
  greeting: "Welcome!"
  back: "Welcome back, {customer_name}."
actions:
  lookup:
    url: "http://orders.test/orders/{order_id}"
    timeout: 2
    save: {status: status}
escalation:
  keywords: [agent, human]
  sentiment_below: -0.8
  intents: [legal]
  when: "tier == 'blocked'"
  queue: care
flows:
  greeting:
    interrupts: false
    triggers: [{event: first_contact}, {intent: greet}]
    steps: [{say: greeting}]
  order:
    title: Order status
    triggers: [{intent: order_status, min_confidence: 0.5}, {button: check_order}]
    steps:
      - ask: order_id
        prompt: ask_order
        entity: order_id
        regex: '\b([A-Za-z]{2}\d{5})\b'
        transform: upper
        invalid: bad_order
        attempts: 2
        on_fail: [{say: gave_up}, end]
      - call: lookup
        on_error:
          - if: http_status == 404
            then: [{say: not_found}]
            else: [{say: down}]
          - end
      - say: status
  paint:
    title: Paint
    triggers: [{keywords: [paint, colour]}]
    steps:
      - ask: color
        prompt: ask_color
        choices: [Red, {title: Blue, payload: pick_blue, value: blue}]
      - ask: note
        prompt: ask_note
        validate: "value != 'x'"
      - say: noted
  counter:
    triggers: [{regex: '^count$'}]
    steps:
      - set: {count: 1}
      - if: "count == 1 and intent is None"
        then: [{set: {note: "counted {count}"}}, {goto: done}]
      - say: hello
      - say: greeting
        id: done
  hours:
    title: Opening hours
    triggers: [{intent: opening_hours}]
    steps: [{say: hours}]
  human:
    title: Talk to a person
    triggers: [{intent: talk_to_human}]
    steps: [{handoff: "asked about {order_id}", queue: people}]
  complaint:
    title: Complaint
    triggers: [{intent: complaint}]
    escalation: {sentiment_below: -0.4, when: "tier == 'vip'", queue: complaints}
    steps: [{say: hours}]
  refunds:
    title: Refunds
    triggers: [{intent: refund_status}]
    steps: [{flow: hours}]
  returns:
    title: Returns
    triggers: [{intent: return_policy}]
    steps: [{say: hours}]
  back:
    triggers: [{event: handoff_returned}]
    steps: [{say: back}]
"""


@pytest.fixture
def bot(tmp_path: Path) -> Bot:
    return bot_from(tmp_path, BOT)


@pytest.fixture
def chat(bot: Bot) -> Chat:
    return Chat(bot)


def handoffs(chat: Chat) -> list[HandOffAction]:
    return chat.of(HandOffAction)


def test_set_branch_and_goto(chat: Chat) -> None:
    chat.send("count")  # count = 1 and not understood: set note, jump over "hello"
    assert chat.said() == ["Welcome!"]
    assert chat.state.slots["note"] == "counted 1"


def test_say_picks_one_variant_at_random(bot: Bot) -> None:
    from dialogs.engine import UserInput, step

    seen = set()
    for seed in range(4):
        state = Chat(bot).state
        parse = Chat(bot).nlu.parse_sync("count")
        parse = type(parse)(text="count", intent="greet", confidence=0.9)  # branch not taken
        _, actions = step(bot, state, UserInput(text="count", seed=seed), parse)
        said = [a for a in actions if isinstance(a, SayAction)]
        assert said[0].alternatives == ("Hello A", "Hello B")
        seen.add(said[0].text)
    assert seen == {"Hello A", "Hello B"}


def test_first_contact_greets_then_answers_the_message(bot: Bot) -> None:
    chat = Chat(bot)
    chat.state = type(chat.state)(slots=chat.state.slots, seen=False)
    chat.send("what are your opening hours")
    assert chat.said() == ["Welcome!", "Open 9-5."]
    chat.send("hello")  # greet later: just the greeting flow
    assert chat.said() == ["Welcome!"]


def test_ask_takes_the_entity_from_the_message_that_started_the_flow(chat: Chat) -> None:
    actions = chat.send("where is my order ab12345")
    requests = [a for a in actions if isinstance(a, HttpRequest)]
    assert chat.said() == []
    assert requests[0].url == "http://orders.test/orders/AB12345"
    assert requests[0].method == "GET" and requests[0].timeout == 2
    chat.answer("lookup", ok=True, status=200, data={"status": "shipped"})
    assert chat.said() == ["Order AB12345 is shipped."]
    assert chat.state.slots["status"] == "shipped"
    assert chat.state.stack == ()


def test_ask_validates_its_format_re_prompts_and_gives_up(chat: Chat) -> None:
    chat.send("where is my order")
    assert chat.said() == ["Order number?"]
    chat.send("12345")
    assert chat.said() == ["Not an order number."]
    chat.send("no idea")
    assert chat.said() == ["Giving up."]  # on_fail after 2 attempts, then end
    assert chat.state.stack == ()


def test_ask_without_on_fail_hands_off_after_its_attempts(tmp_path: Path) -> None:
    bot = bot_from(
        tmp_path,
        "slots: {x: {}}\ntemplates: {q: 'X?'}\n"
        "flows:\n  f:\n    triggers: [{keywords: [go]}]\n"
        "    steps: [{ask: x, prompt: q, regex: '^\\d+$', attempts: 1}]\n",
    )
    chat = Chat(bot)
    chat.send("go")
    chat.send("abc")
    assert [h.trigger for h in handoffs(chat)] == ["attempts"]


def test_a_failed_call_takes_the_failure_branch(chat: Chat) -> None:
    chat.send("where is my order XY00000")
    chat.answer("lookup", ok=False, status=404)
    assert chat.said() == ["No order XY00000."]
    chat.send("where is my order ZZ99999")
    chat.answer("lookup", ok=False, status=0)
    assert chat.said() == ["Service down (0)."]
    assert chat.state.stack == ()


def test_choices_are_buttons_and_accept_a_press_or_the_title(chat: Chat) -> None:
    chat.send("I want to paint")
    (prompt,) = chat.of(SayAction)
    assert [(b.title, b.payload) for b in prompt.buttons] == [
        ("Help", "/talk_to_human"),
        ("Red", "Red"),
        ("Blue", "pick_blue"),
    ]
    chat.send("green")
    assert chat.said() == ["Which color?"]  # re-asked
    chat.send(payload="pick_blue")
    assert chat.said() == ["Any note?"]
    assert chat.state.slots["color"] == "blue"


def test_free_text_answer_with_validation(chat: Chat) -> None:
    chat.send("paint")
    chat.send("red")
    chat.send("x")
    assert chat.said() == ["Any note?"]  # validate refused it
    chat.send("glossy please")
    assert chat.said() == ["Noted glossy please for Red."]


def test_handoff_step_renders_its_reason_and_queue(bot: Bot) -> None:
    chat = Chat(bot, slots={"order_id": "AB12345"})
    chat.send("can I talk to someone")
    (handoff,) = handoffs(chat)
    assert (handoff.trigger, handoff.reason, handoff.queue) == (
        "flow",
        "asked about AB12345",
        "people",
    )
    assert chat.said() == []  # a handoff step says nothing by itself


def test_flow_step_switches_to_another_flow(chat: Chat) -> None:
    chat.send("where is my refund")
    assert chat.said() == ["Open 9-5."]
    assert [t.flow for t in chat.of(Trace)] == ["refunds", "hours"]


def test_a_question_during_a_form_is_answered_and_the_form_resumes(chat: Chat) -> None:
    chat.send("where is my order")
    chat.send("what are your opening hours?")
    assert chat.said() == ["Open 9-5.", "Order number?"]
    chat.send("AB12345")
    assert [a.url for a in chat.of(HttpRequest)] == ["http://orders.test/orders/AB12345"]


def test_small_talk_does_not_interrupt_a_form(chat: Chat) -> None:
    chat.send("where is my order")
    chat.send("hello")
    assert chat.said() == ["Not an order number."]


def test_cancel_leaves_the_form(chat: Chat) -> None:
    chat.send("where is my order")
    chat.send("Cancel!")
    assert chat.said() == ["OK, I've stopped that. What else can I do for you?"]
    assert chat.state.stack == ()


def test_not_understood_offers_two_likely_flows_then_hands_off(chat: Chat) -> None:
    chat.send("my order and a refund")
    (reply,) = chat.of(SayAction)
    assert reply.text.startswith("Sorry, I'm not sure I understood. Did you mean")
    assert [(b.title, b.payload) for b in reply.buttons] == [
        ("Order status", "/order_status"),
        ("Returns", "/return_policy"),
    ]
    chat.send(payload="/order_status")
    assert chat.said() == ["Order number?"]
    chat.send("cancel")
    chat.send("blah")
    assert chat.said()[0].startswith("Sorry, I didn't get that")
    chat.send("blah blah")
    assert [h.trigger for h in handoffs(chat)] == ["fallback"]
    assert handoffs(chat)[0].queue == "care"


def test_understanding_resets_the_fallback_count(chat: Chat) -> None:
    chat.send("blah")
    chat.send("opening hours")
    chat.send("blah")
    assert handoffs(chat) == []


@pytest.mark.parametrize(
    ("text", "trigger"),
    [
        ("I want a HUMAN now", "keyword"),
        ("this is the worst", "sentiment"),
        ("I am going to sue you", "sensitive_intent"),
    ],
)
def test_global_escalation_rules(chat: Chat, text: str, trigger: str) -> None:
    chat.send(text)
    (handoff,) = handoffs(chat)
    assert handoff.trigger == trigger and handoff.queue == "care"
    assert chat.said() == ["I'm passing you to a colleague who can help. Please hold on."]


def test_escalation_also_interrupts_a_form(chat: Chat) -> None:
    chat.send("where is my order")
    chat.send("agent")
    assert [h.trigger for h in handoffs(chat)] == ["keyword"]
    assert chat.state.stack == ()


def test_global_slot_condition_is_checked_when_a_flow_starts(bot: Bot) -> None:
    chat = Chat(bot, slots={"tier": "blocked"})
    chat.send("opening hours")
    assert [h.trigger for h in handoffs(chat)] == ["slot_condition"]


def test_flow_escalation_sentiment_and_slot_condition(bot: Bot) -> None:
    mild = Chat(bot)
    mild.send("I have a complaint")
    assert mild.said() == ["Open 9-5."]
    upset = Chat(bot)
    upset.send("complaint: I'm disappointed")
    assert [(h.trigger, h.queue) for h in handoffs(upset)] == [("sentiment", "complaints")]
    vip = Chat(bot, slots={"tier": "vip"})
    vip.send("I have a complaint")
    assert [(h.trigger, h.queue) for h in handoffs(vip)] == [("slot_condition", "complaints")]


def test_handoff_returned_greets_back_in_context(bot: Bot) -> None:
    from dialogs.engine import DialogEvent, step

    chat = Chat(bot, slots={"order_id": "AB12345"})
    chat.send("where is my order")
    chat.send("agent")
    state, actions = step(
        bot, chat.state, DialogEvent(name="handoff_returned", customer_name="Ada")
    )
    assert [a.text for a in actions if isinstance(a, SayAction)] == ["Welcome back, Ada."]
    assert state.slots["order_id"] == "AB12345"  # context kept


def test_state_survives_json(bot: Bot) -> None:
    chat = Chat(bot)
    chat.send("where is my order")
    chat.send("what are your opening hours")
    data = chat.state.to_json()
    restored = from_json(bot, data, dict(chat.state.slots))
    assert restored == chat.state


def test_reload_follows_a_moved_step_restarts_a_changed_flow_forgets_a_gone_one(
    tmp_path: Path, bot: Bot
) -> None:
    chat = Chat(bot)
    chat.send("paint")
    chat.send("red")  # now waiting at ask:note (pc 1)
    data = chat.state.to_json()
    moved = bot_from(
        tmp_path, BOT.replace("      - ask: note\n", "      - say: hours\n      - ask: note\n")
    )
    assert from_json(moved, data).stack[0].pc == 2
    renamed = bot_from(
        tmp_path,
        BOT.replace("ask: note", "ask: color").replace("prompt: ask_note", "prompt: ask_color"),
    )
    restarted = Chat(renamed)
    restarted.state = from_json(renamed, data, {"color": "Red"})
    assert restarted.state.stack[0].pc == 0 and restarted.state.stack[0].key == ""
    restarted.send("Blue")
    assert restarted.said() == ["Which color?"]  # the flow starts over, cleanly
    gone = bot_from(tmp_path, BOT.replace("  paint:\n", "  painting:\n"))
    assert from_json(gone, data).stack == ()


def test_an_engine_loop_is_stopped(tmp_path: Path) -> None:
    # The validator refuses such flows; the engine still guards itself.
    from dialogs.engine import DialogLoopError, UserInput, step
    from dialogs.model import DialogState, Flow, Jump

    bot = bot_from(tmp_path, BOT)
    looping = Flow("loop", "Loop", (Jump(0, "j"),))
    bot.flows["loop"] = looping
    bot.button_flows["loop"] = "loop"
    with pytest.raises(DialogLoopError):
        step(bot, DialogState(seen=True), UserInput(payload="loop"))
