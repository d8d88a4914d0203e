"""``frontdesk review apply``: write labelled review items into the data files, as text edits
that keep the admins' formatting and comments — an example appended to the intent's block in
the NLU YAML file that holds it, a phrasing appended to an FAQ entry, a new FAQ entry at the
end of the knowledge base's FAQ file — checked by ``frontdesk.commands.review`` with the same
validation as ``frontdesk validate`` on copies before anything is written."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from gateway.review.inbox import ReviewItem


class ApplyError(ValueError):
    """A label that cannot be written; the message says why."""


def _quote(text: str) -> str:
    return json.dumps(" ".join(text.split()), ensure_ascii=False)


def add_example(source: str, intent: str, example: str) -> str | None:
    """``source`` (Rasa NLU YAML) with ``example`` appended to ``intent``'s examples, or None
    when the file does not hold that intent."""
    lines = source.splitlines(keepends=True)
    head = re.compile(rf"^(\s*)- intent:\s*['\"]?{re.escape(intent)}['\"]?\s*(#.*)?$")
    for i, line in enumerate(lines):
        if not head.match(line.rstrip("\n")):
            continue
        for j in range(i + 1, len(lines)):
            m = re.match(r"^(\s*)examples:\s*\|[-+]?\s*$", lines[j].rstrip("\n"))
            if m:
                break
            if lines[j].lstrip().startswith("- "):
                return None  # another item before the examples: not the block form
        else:
            return None
        key_indent = len(m.group(1))
        last, indent = j, " " * (key_indent + 2)
        for k in range(j + 1, len(lines)):
            text = lines[k].rstrip("\n")
            if text.strip() and len(text) - len(text.lstrip()) <= key_indent:
                break
            if text.strip():
                last, indent = k, text[: len(text) - len(text.lstrip())]
        plain = " ".join(example.split()).replace("[", "(").replace("]", ")")
        if not lines[last].endswith("\n"):
            lines[last] += "\n"
        lines.insert(last + 1, f"{indent}- {plain}\n")
        return "".join(lines)
    return None


def add_phrasing(source: str, entry: str, phrasing: str) -> str | None:
    """``source`` (FAQ YAML) with ``phrasing`` appended to entry ``entry``, or None."""
    lines = source.splitlines(keepends=True)
    head = re.compile(rf"^(\s*)- id:\s*['\"]?{re.escape(entry)}['\"]?\s*(#.*)?$")
    for i, line in enumerate(lines):
        m = head.match(line.rstrip("\n"))
        if not m:
            continue
        dash = len(m.group(1))
        key = " " * (dash + 2)
        end = len(lines)
        for k in range(i + 1, len(lines)):
            text = lines[k].rstrip("\n")
            if text.strip() and len(text) - len(text.lstrip()) <= dash:
                end = k
                break
        for k in range(i + 1, end):
            if lines[k].startswith(f"{key}phrasings:"):
                rest = lines[k].rstrip("\n")[len(key) + len("phrasings:") :].strip()
                if rest.startswith("[") and rest.endswith("]"):
                    inner = rest[1:-1].strip()
                    joined = f"{inner}, {_quote(phrasing)}" if inner else _quote(phrasing)
                    lines[k] = f"{key}phrasings: [{joined}]\n"
                    return "".join(lines)
                if rest:
                    return None
                last = k
                for n in range(k + 1, end):
                    if lines[n].strip().startswith("- ") and lines[n].startswith(key + " "):
                        last = n
                    elif lines[n].strip():
                        break
                indent = (
                    lines[last][: len(lines[last]) - len(lines[last].lstrip())]
                    if last != k
                    else key + "  "
                )
                lines.insert(last + 1, f"{indent}- {_quote(phrasing)}\n")
                return "".join(lines)
        lines.insert(i + 1, f"{key}phrasings:\n{key}  - {_quote(phrasing)}\n")
        return "".join(lines)
    return None


def add_entry(source: str, ident: str, question: str, answer: str) -> str:
    """``source`` (FAQ YAML, or "" for a new file) with a new entry at the end."""
    m = re.search(r"^(\s*)- id:", source, re.M)
    dash = m.group(1) if m else "  "
    body = source if source.strip() else "faq:\n"
    if not body.endswith("\n"):
        body += "\n"
    key = dash + "  "
    return (
        f"{body}{dash}- id: {_quote(ident)}\n{key}question: {_quote(question)}\n"
        f"{key}answer: {_quote(answer)}\n"
    )


def _slug(text: str) -> str:
    return "_".join(re.findall(r"[a-z0-9]+", text.lower())[:6]) or "entry"


@dataclass(slots=True)
class Plan:
    """The new text of every file to change, and what each review item became."""

    texts: dict[Path, str] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)  # item ids
    skipped: list[str] = field(default_factory=list)  # "id: why"

    def diff(self) -> str:
        out: list[str] = []
        for path, new in self.texts.items():
            old = path.read_text(encoding="utf-8") if path.exists() else ""
            out += difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True),
                fromfile=f"a/{path}", tofile=f"b/{path}",
            )  # fmt: skip
        return "".join(out)


def plan(items: list[ReviewItem], nlu_files: list[Path], kb_folder: Path) -> Plan:
    out = Plan()

    def current(path: Path) -> str:
        if path not in out.texts:
            out.texts[path] = path.read_text(encoding="utf-8") if path.exists() else ""
        return out.texts[path]

    faq_files = sorted(p for p in kb_folder.rglob("*") if p.suffix in (".yml", ".yaml"))
    for item in items:
        label = item.label or {}
        if item.applied or not label or "ignore" in label:
            if "ignore" in label and not item.applied:
                out.done.append(item.id)
            continue
        if label.get("draft"):
            out.skipped.append(f"{item.id}: a draft (Teach the bot): frontdesk review approve "
                               f"{item.id} first")  # fmt: skip
        elif "intent" in label:
            for path in nlu_files:
                if (new := add_example(current(path), str(label["intent"]), item.text)) is not None:
                    out.texts[path] = new
                    out.done.append(item.id)
                    break
            else:
                out.skipped.append(f"{item.id}: no NLU file holds intent {label['intent']}")
        elif "faq" in label:
            for path in faq_files:
                if (new := add_phrasing(current(path), str(label["faq"]), item.text)) is not None:
                    out.texts[path] = new
                    out.done.append(item.id)
                    break
            else:
                out.skipped.append(f"{item.id}: no FAQ entry {label['faq']} in {kb_folder}")
        elif "new_faq" in label:
            spec = label["new_faq"] or {}
            if not spec.get("answer"):
                out.skipped.append(f"{item.id}: a new FAQ entry needs an answer (--answer)")
                continue
            path = faq_files[0] if faq_files else kb_folder / "faq.yml"
            ident = str(spec.get("id") or _slug(item.text))
            out.texts[path] = add_entry(current(path), ident, item.text, str(spec["answer"]))
            faq_files = faq_files or [path]
            out.done.append(item.id)
    out.texts = {p: t for p, t in out.texts.items() if not p.exists() or p.read_text() != t}
    return out
