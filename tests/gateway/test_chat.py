"""``frontdesk chat``: a newcomer talks to the bot in the terminal, through the real pipeline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis


def chat(stdin: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "chat", *args],
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
