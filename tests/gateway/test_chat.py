"""``frontdesk chat``: a newcomer talks to the bot in the terminal, through the real pipeline."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import redis


def chat(stdin: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", "chat", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")},
    )


def test_chat_on_embedded_defaults_answers_each_line_in_order(tmp_path: Path) -> None:
    result = chat("hello\nwhere is my order?\n/press talk_to_human\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    bot_lines = [line.split("bot> ", 1)[1] for line in lines if "bot> " in line]
    assert bot_lines == ["echo: hello", "echo: where is my order?", "echo: talk_to_human"]


def test_chat_with_redis_store_keeps_the_session(tmp_path: Path, redis_url: str) -> None:
    config = tmp_path / "config.yml"
    config.write_text(f'store: {{url: "{redis_url}"}}\n')
    result = chat("first\nsecond\n", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "bot> echo: second" in result.stdout
    client = redis.Redis.from_url(redis_url)
    [session_key] = list(client.scan_iter(match="fd:{console:*}:session"))
    assert int(client.hget(session_key, "v") or 0) == 2  # two turns, two versions
    client.close()


def test_chat_with_an_invalid_config_names_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("server:\n  port: nope\n")
    result = chat("", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert f"{config}:2: server.port:" in result.stderr


ROOT = Path(__file__).resolve().parents[2]
PLATFORM_ENV = ("FRONTDESK_", "SLACK_", "TELEGRAM_", "TWILIO_", "WHATSAPP_")
PROMPT_MARK = "you> "


def example_chat(lines: list[str], order_service: str = "") -> subprocess.CompletedProcess[str]:
    """`frontdesk chat` with the committed config (the example bot), no platform credentials;
    the example's order service at ``order_service`` ("" for none)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PLATFORM_ENV)}
    env["FRONTDESK_DEMO_ORDER_SERVICE"] = order_service
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", "chat", "--config", str(ROOT / "config.yml")],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )


def test_chat_plays_the_agent_side_of_a_handoff_when_slack_is_off() -> None:
    script = [
        "I want to talk to a human",
        "/claim",
        "/reply Hello, Alice here. How can I help?",
        "where is my parcel?",
        "/note VIP customer",
        "/resolve",
        "/press csat:5",
        "hello",
    ]
    result = example_chat(script)  # no order service: not needed here
    assert result.returncode == 0, result.stderr
    out = result.stdout.replace(PROMPT_MARK, "\n").splitlines()
    bot = [line.removeprefix("bot> ") for line in out if line.startswith("bot> ")]
    agents = [line.removeprefix("agents> ") for line in out if line.startswith("agents> ")]

    assert "nobody from our team can join" not in result.stdout
    assert "[card] Handoff: you on Console" in agents
    assert "  Buttons: /claim  /resolve  /bot" in agents
    assert "  Known: tier=standard" in agents  # what the bot knows, not every unset slot
    assert any(line.strip() == "you: I want to talk to a human" for line in agents)  # transcript
    assert "[thread] Agent claimed this conversation." in agents
    assert "[card updated] Handoff: you on Console: With Agent" in agents
    claimed = bot.index("You're now talking with Support.")
    # While the agent owns the conversation the bot says nothing: only the agent's reply and,
    # on resolve, the rating question reach the customer.
    assert bot[claimed + 1 :][:2] == [
        "Support: Hello, Alice here. How can I help?",
        "Thanks for your patience! How would you rate the help you got (1 = poor, 5 = great)?",
    ]
    assert "✔ sent to the customer: Hello, Alice here. How can I help?" in agents
    assert "[thread] *you*: where is my parcel?" in agents
    assert "[thread, internal note] // VIP customer" in agents
    assert not any("VIP" in line for line in bot)
    assert "[thread] Resolved by Agent. The bot takes over again." in agents
    assert "[thread] The customer rated the help 5/5." in agents
    thanks = bot.index("Thank you for your feedback!")
    assert bot[thanks + 1].startswith("Welcome back!")  # handoff_returned, the bot's again
    assert bot[thanks + 2 :] and "Northwind Goods assistant" in bot[-1]  # it answers "hello"


def test_chat_says_when_there_is_no_handoff_to_act_on(tmp_path: Path) -> None:
    result = chat("/claim\nhello\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "agents> No handoff to act on yet" in result.stdout
    assert "bot> echo: hello" in result.stdout


def test_chat_with_the_order_services_port_taken_still_answers_orders() -> None:
    """A second `frontdesk chat` (or `run`) while one is open: the example's order service
    finds its port taken, serves on a free one, and the bot still looks orders up there."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = example_chat(["where is my order AB12345?"], f"http://127.0.0.1:{port}")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "shipped" in result.stdout  # the order was looked up on the moved service


def test_typed_option_numbers_and_ratings_select_them_in_chat() -> None:
    """Options are shown numbered in `frontdesk chat`: typing "2" picks the second, and "5"
    answers the rating question, as on SMS."""
    script = [
        "I want to cancel my subscription",
        "2",
        "I want to talk to a human",
        "/claim",
        "/resolve",
        "5",
    ]
    result = example_chat(script)
    assert result.returncode == 0, result.stderr
    out = result.stdout.replace(PROMPT_MARK, "\n").splitlines()
    bot = [line.removeprefix("bot> ") for line in out if line.startswith("bot> ")]
    agents = [line.removeprefix("agents> ") for line in out if line.startswith("agents> ")]
    offer = next(i for i, line in enumerate(bot) if "pause your subscription" in line)
    assert "confirm the cancellation" in bot[offer + 1]  # "2" = Cancel anyway
    assert not any("pick one of the options" in line for line in bot)
    assert "Thank you for your feedback!" in bot
    assert "[thread] The customer rated the help 5/5." in agents


def test_a_handoff_tells_the_customer_once_and_the_card_says_each_thing_once() -> None:
    """The example bot's "I'm passing you to a colleague… Please hold on" was followed by the
    desk's "I'm handing you over to a person from our team…"; and the card's Summary repeated
    its Known slots."""
    result = example_chat(["I want to talk to a human"])
    assert result.returncode == 0, result.stderr
    out = result.stdout.replace(PROMPT_MARK, "\n").splitlines()
    bot = [line.removeprefix("bot> ") for line in out if line.startswith("bot> ")]
    agents = [line.removeprefix("agents> ") for line in out if line.startswith("agents> ")]
    assert bot == [
        "I'm passing you to a colleague who can help. Please hold on, someone will be with you "
        "shortly. You can keep writing here in the meantime."
    ]
    assert "  Known: tier=standard" in agents
    [summary] = [line for line in agents if line.startswith("  Summary:")]
    assert summary == "  Summary: The customer wrote “I want to talk to a human”"
