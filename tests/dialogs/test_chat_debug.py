"""The ``frontdesk chat`` debug line says why the bot answered as it did."""

from __future__ import annotations

from frontdesk.chat import format_debug


def test_not_understood_shows_the_best_guess_not_a_confidence_of_nothing() -> None:
    line = format_debug(
        {"intent": None, "confidence": 0.97, "ranking": [["out_of_scope", 0.97], ["greet", 0.01]]}
    )
    assert "intent (not understood; best guess out_of_scope 0.97)" in line
    assert "(not understood) 0.97" not in line


def test_an_understood_intent_shows_its_confidence() -> None:
    line = format_debug({"intent": "greet", "confidence": 0.9, "ranking": [["greet", 0.9]]})
    assert "intent greet 0.90" in line


def test_a_button_press_without_ranking_says_not_understood_only() -> None:
    assert "intent (not understood)" in format_debug({"intent": None, "confidence": 1.0})
    assert "1.00" not in format_debug({"intent": None, "confidence": 1.0})
