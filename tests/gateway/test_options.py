"""Typed answers to offered options: titles everywhere, numbers where options are numbered."""

from __future__ import annotations

from gateway.options import resolve_choice

OPTIONS = [["Pause for 3 months", "pause"], ["Café au lait", "coffee"], ["Keep it", "keep"]]


def test_a_title_picks_its_option_whatever_the_case_and_accents() -> None:
    assert resolve_choice("keep it!", OPTIONS, numbered=False) == "keep"
    assert resolve_choice("CAFE AU LAIT", OPTIONS, numbered=False) == "coffee"


def test_a_number_picks_an_option_only_where_options_are_numbered() -> None:
    assert resolve_choice("2", OPTIONS, numbered=True) == "coffee"
    assert resolve_choice("2", OPTIONS, numbered=False) is None
    assert resolve_choice("4", OPTIONS, numbered=True) is None
    assert resolve_choice("9" * 5000, OPTIONS, numbered=True) is None


def test_other_text_picks_nothing() -> None:
    assert resolve_choice("where is my order?", OPTIONS, numbered=True) is None
