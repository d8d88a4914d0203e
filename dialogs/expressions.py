"""The two small languages inside dialog YAML: conditions and text templates.

Conditions are Python-like expressions over slots and NLU results (``tier == 'vip' and
sentiment < -0.5``, ``order_id``, ``intent in ['legal', 'complaint']``), parsed once with
``ast`` into closures; only comparisons, ``and``/``or``/``not``, names, constants and lists of
constants are allowed, so a condition can read variables and nothing else. Templates are
``str.format`` strings with plain names (``Order {order_id} is {order_status}``); a missing
or unset name renders as an empty string.
"""

from __future__ import annotations

import ast
import operator
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Vars = Mapping[str, Any]
Condition = Callable[[Vars], bool]


class ExpressionError(ValueError):
    """A condition or template that cannot be compiled; the message says why."""


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    source: str
    names: frozenset[str]
    test: Condition

    def __call__(self, variables: Vars) -> bool:
        return self.test(variables)


def compile_condition(source: str) -> CompiledCondition:
    """Compile ``source``; raise ExpressionError for syntax or a construct not allowed."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"invalid condition {source!r}: {exc.msg}") from None
    names: set[str] = set()
    fn = _compile(tree.body, names, source)
    return CompiledCondition(source, frozenset(names), lambda v: bool(fn(v)))


def _compile(node: ast.expr, names: set[str], source: str) -> Callable[[Vars], Any]:
    if isinstance(node, ast.Constant):
        value = node.value
        return lambda v: value
    if isinstance(node, ast.Name):
        name = node.id
        names.add(name)
        return lambda v: v.get(name)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        items = [_compile(e, names, source) for e in node.elts]
        return lambda v: [item(v) for item in items]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _compile(node.operand, names, source)
        return lambda v: not inner(v)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _compile(node.operand, names, source)
        return lambda v: -inner(v)
    if isinstance(node, ast.BoolOp):
        parts = [_compile(e, names, source) for e in node.values]
        if isinstance(node.op, ast.And):
            return lambda v: all(p(v) for p in parts)
        return lambda v: any(p(v) for p in parts)
    if isinstance(node, ast.Compare):
        left = _compile(node.left, names, source)
        ops = [_COMPARE[type(op)] for op in node.ops]
        rights = [_compile(c, names, source) for c in node.comparators]

        def compare(v: Vars) -> bool:
            a = left(v)
            for op, right in zip(ops, rights, strict=True):
                b = right(v)
                try:
                    if not op(a, b):
                        return False
                except TypeError:  # None < 3, 'x' in None: simply not true
                    return False
                a = b
            return True

        return compare
    raise ExpressionError(
        f"invalid condition {source!r}: {type(node).__name__} is not allowed "
        "(use names, constants, comparisons, and/or/not)"
    )


@dataclass(frozen=True, slots=True)
class Text:
    """A compiled template string: literal parts and names, rendered without ``str.format``
    surprises (no attribute or index access)."""

    source: str
    parts: tuple[tuple[str, str | None, str], ...]  # (literal, name, format spec)
    names: frozenset[str]

    def render(self, variables: Vars) -> str:
        if not self.names:
            return self.source
        out: list[str] = []
        for literal, name, spec in self.parts:
            out.append(literal)
            if name is not None:
                value = variables.get(name)
                if value is None:
                    continue
                try:
                    out.append(format(value, spec))
                except (TypeError, ValueError):
                    out.append(str(value))
        return "".join(out)


def compile_text(source: str) -> Text:
    """Compile a template string; raise ExpressionError on a malformed ``{…}``."""
    parts: list[tuple[str, str | None, str]] = []
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(source))
    except ValueError as exc:
        raise ExpressionError(f"invalid template {source!r}: {exc}") from None
    for literal, field, spec, conversion in parsed:
        if field is None:
            parts.append((literal, None, ""))
            continue
        if not field.isidentifier() or conversion:
            raise ExpressionError(
                f"invalid template {source!r}: {{{field}}} must be a plain slot name"
            )
        names.add(field)
        parts.append((literal, field, spec or ""))
    if not names:
        return Text(source.replace("{{", "{").replace("}}", "}"), (), frozenset())
    return Text(source, tuple(parts), frozenset(names))
