"""Hypothesis is imported while tests are collected: when its pytest plugin imports it only at
the end of a run (a run without another test that imports it), CPython 3.11.7 can fail to
compile it ("AST constructor recursion depth mismatch") after the tests have passed."""

import hypothesis  # noqa: F401
