"""Read a knowledge folder: FAQ YAML (``*.yml``) and Markdown articles (``*.md``), every
problem reported as ``file:line: message``. Files in subfolders are read too (sorted)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from common.settings import ConfigProblem
from nlu.knowledge.entries import Entry, KbButton, KnowledgeSet

FAQ_KEYS = ("id", "question", "phrasings", "answer", "link", "tags")
ANSWER_KEYS = ("text", "buttons")
FRONT_MATTER_KEYS = ("title", "link", "tags", "id")
_ID = re.compile(r"^[\w.:-]+$")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def knowledge_files(path: str | Path) -> list[Path]:
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml", ".md")
    )


def load_knowledge(path: str | Path) -> KnowledgeSet:
    """Every entry of the folder ``path``; a missing folder is an empty knowledge base."""
    out = KnowledgeSet()
    digest = hashlib.sha256()
    seen: dict[str, Entry] = {}
    for file in knowledge_files(path):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            out.problems.append(ConfigProblem(str(file), 1, f"cannot read: {exc}"))
            continue
        digest.update(str(file).encode() + b"\0" + text.encode())
        reader = read_faq if file.suffix in (".yml", ".yaml") else read_article
        entries, problems = reader(text, str(file))
        out.problems += problems
        for entry in entries:
            if (other := seen.get(entry.id)) is not None:
                message = f"id {entry.id} is also used at {other.source}"
                out.problems.append(ConfigProblem(entry.file, entry.line, message))
                continue
            seen[entry.id] = entry
            out.entries.append(entry)
    out.digest = digest.hexdigest()[:12]
    out.problems.sort(key=lambda p: (p.file, p.line))
    return out


# --------------------------------------------------------------------------- FAQ YAML


class _Lines:
    """Plain data from a composed YAML node, with the line of every value."""

    def __init__(self) -> None:
        self.lines: dict[int, int] = {}  # id(value) is not stable for scalars: key by path
        self.paths: dict[tuple[Any, ...], int] = {}

    def build(self, node: yaml.Node, path: tuple[Any, ...] = ()) -> Any:
        self.paths[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key, value in node.value:
                self.paths[(*path, str(key.value))] = key.start_mark.line + 1
                out[str(key.value)] = self.build(value, (*path, str(key.value)))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return yaml.SafeLoader("").construct_object(node, deep=True)

    def line(self, path: tuple[Any, ...]) -> int:
        while path and path not in self.paths:
            path = path[:-1]
        return self.paths.get(path, 1)


def read_faq(text: str, file: str) -> tuple[list[Entry], list[ConfigProblem]]:
    """``faq:`` — a list of ``{id, question, phrasings, answer, link, tags}``."""
    problems: list[ConfigProblem] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return [], [ConfigProblem(file, line, f"invalid YAML: {getattr(exc, 'problem', exc)}")]
    if root is None:
        return [], []
    lines = _Lines()
    data = lines.build(root)

    def problem(path: tuple[Any, ...], message: str) -> None:
        problems.append(ConfigProblem(file, lines.line(path), message))

    if not isinstance(data, dict) or not isinstance(data.get("faq"), list):
        problem((), "an FAQ file holds faq: a list of entries (id, question, answer, …)")
        return [], problems
    for key in data:
        if key not in ("faq", "version"):
            problem((key,), f"unknown key {key} (faq)")
    entries = []
    for i, item in enumerate(data["faq"]):
        entry = _faq_entry(item, ("faq", i), file, lines, problem)
        if entry is not None:
            entries.append(entry)
    return entries, problems


def _faq_entry(
    item: Any, at: tuple[Any, ...], file: str, lines: _Lines, problem: Any
) -> Entry | None:
    if not isinstance(item, dict):
        problem(at, "an FAQ entry is a mapping: id, question, answer, …")
        return None
    ok = True
    for key in item:
        if key not in FAQ_KEYS:
            problem((*at, key), f"unknown key {key} (allowed: {', '.join(FAQ_KEYS)})")
            ok = False
    for key in ("id", "question", "answer"):
        if item.get(key) in (None, ""):
            problem(at, f"FAQ entry: {key} is required")
            ok = False
    ident = str(item.get("id", ""))
    if ident and not _ID.match(ident):
        problem((*at, "id"), f"id {ident!r}: letters, digits and _ . : - only")
        ok = False
    if item.get("question") is not None and not isinstance(item["question"], str):
        problem((*at, "question"), "question: expected text")
        ok = False
    phrasings = _strings(item.get("phrasings"), (*at, "phrasings"), "phrasings", problem)
    tags = _strings(item.get("tags"), (*at, "tags"), "tags", problem)
    link = item.get("link")
    if link is not None and not (isinstance(link, str) and link.strip()):
        problem((*at, "link"), "link: expected a URL")
        ok = False
    answer, buttons = _answer(item.get("answer"), (*at, "answer"), problem)
    if not ok or phrasings is None or tags is None or answer is None or buttons is None:
        return None
    return Entry(
        id=ident,
        kind="faq",
        question=str(item["question"]).strip(),
        answer=answer,
        phrasings=tuple(phrasings),
        buttons=tuple(buttons),
        link=link.strip() if isinstance(link, str) else None,
        tags=tuple(tags),
        title=str(item["question"]).strip(),
        file=file,
        line=lines.line(at),
        answer_line=lines.line((*at, "answer")),
    )


def _strings(value: Any, at: tuple[Any, ...], what: str, problem: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        problem(at, f"{what}: expected a list of texts")
        return None
    return [str(v).strip() for v in value if str(v).strip()]


def _answer(
    value: Any, at: tuple[Any, ...], problem: Any
) -> tuple[str | None, list[KbButton] | None]:
    if value is None:
        return None, None
    if isinstance(value, str):
        return value.strip(), []
    if not isinstance(value, dict):
        problem(at, "answer: expected text, or a mapping with text and buttons")
        return None, None
    bad = [k for k in value if k not in ANSWER_KEYS]
    for key in bad:
        problem((*at, key), f"answer: unknown key {key} (allowed: text, buttons)")
    text = value.get("text")
    if not isinstance(text, str) or not text.strip():
        problem(at, "answer: text is required")
        return None, None
    buttons: list[KbButton] = []
    raw = value.get("buttons") or []
    if not isinstance(raw, list):
        problem((*at, "buttons"), "buttons: expected a list of {title, payload}")
        return None, None
    for i, button in enumerate(raw):
        if not isinstance(button, dict) or "title" not in button or "payload" not in button:
            problem((*at, "buttons", i), "a button needs title and payload")
            return None, None
        buttons.append(KbButton(title=str(button["title"]), payload=str(button["payload"])))
    return (None, None) if bad else (text.strip(), buttons)


# --------------------------------------------------------------------------- Markdown


def slug(text: str) -> str:
    """GitHub-style heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def read_article(text: str, file: str) -> tuple[list[Entry], list[ConfigProblem]]:
    """Sections of a Markdown article: each heading starts one; its text is the answer.
    Optional YAML front matter between ``---`` lines: title, link, tags, id (the prefix of
    section ids; default the file name)."""
    problems: list[ConfigProblem] = []
    lines = text.splitlines()
    meta: dict[str, Any] = {}
    start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is None:
            return [], [ConfigProblem(file, 1, "front matter: no closing --- line")]
        try:
            loaded = yaml.safe_load("\n".join(lines[1:end])) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 2 if mark is not None else 1
            return [], [ConfigProblem(file, line, f"front matter: invalid YAML: {exc}")]
        if not isinstance(loaded, dict):
            return [], [ConfigProblem(file, 2, "front matter: expected key: value lines")]
        for key in loaded:
            if key not in FRONT_MATTER_KEYS:
                where = next((i + 1 for i in range(1, end) if lines[i].startswith(f"{key}:")), 2)
                allowed = ", ".join(FRONT_MATTER_KEYS)
                message = f"front matter: unknown key {key} (allowed: {allowed})"
                problems.append(ConfigProblem(file, where, message))
        meta, start = loaded, end + 1
    sections: list[tuple[int, int, str, list[str]]] = []  # (line, level, heading, body lines)
    fenced = False
    for number in range(start, len(lines)):
        line = lines[number]
        if _FENCE.match(line):
            fenced = not fenced
        found = None if fenced else _HEADING.match(line)
        if found:
            sections.append((number + 1, len(found.group(1)), found.group(2), []))
        elif sections:
            sections[-1][3].append(line)
        elif line.strip():
            problems.append(ConfigProblem(file, number + 1, "text before the first heading "
                                          "(# Title) belongs to no section"))  # fmt: skip
    if not sections:
        problems.append(ConfigProblem(file, start + 1, "an article needs headings (# Title)"))
        return [], problems
    prefix = str(meta.get("id") or Path(file).stem)
    article = str(meta.get("title") or (sections[0][2] if sections[0][1] == 1 else Path(file).stem))
    link = meta.get("link")
    tags = tuple(str(t) for t in (meta.get("tags") or []))
    entries: list[Entry] = []
    used: dict[str, int] = {}
    for number, _level, heading, body in sections:
        answer = _plain("\n".join(body))
        if not answer:
            continue  # a heading that only introduces subsections
        anchor = slug(heading)
        if anchor in used:
            message = f"heading {heading!r} repeats line {used[anchor]} (ids must differ)"
            problems.append(ConfigProblem(file, number, message))
            continue
        used[anchor] = number
        title = heading if heading == article else f"{article}: {heading}"
        entries.append(
            Entry(
                id=f"{prefix}#{anchor}",
                kind="article",
                question=heading,
                answer=answer.replace("{", "{{").replace("}", "}}"),
                link=f"{link}#{anchor}" if isinstance(link, str) and link else None,
                tags=tags,
                title=title,
                file=file,
                line=number,
                answer_line=number + 1,
            )
        )
    return entries, problems


_MARKUP = re.compile(r"(\*\*|__|`)")
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)]*)\)")


def _plain(markdown: str) -> str:
    """The section's text for a chat message: paragraphs kept, emphasis and link markup
    dropped (a link keeps its text and URL)."""
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(1) else m.group(2),
                     markdown)  # fmt: skip
    text = _MARKUP.sub("", text)
    paragraphs = [_paragraph(p) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s+")


def _paragraph(block: str) -> str:
    """Lines joined with spaces; a list item starts a line of its own ("- " kept)."""
    out: list[str] = []
    for line in block.splitlines():
        words = " ".join(line.split())
        if not words:
            continue
        if _ITEM.match(line) or not out:
            out.append(words)
        else:
            out[-1] += " " + words
    return "\n".join(out)
