"""Hot reload: watch the dialog YAML (and the NLU data) with ``watchfiles``; on a change,
validate the new version and swap it into the runner. An invalid change is refused, its
problems logged, and the running version stays in force.

Conversations in the middle of a flow go on: their state names a flow and the label of the
step they wait at, which ``dialogs.model.from_json`` finds again in the new version (or
restarts that flow when the step is gone, or forgets it when the flow is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

import watchfiles

from common import heap
from common.logging import get_logger
from common.settings import ConfigProblem
from dialogs.knowledge import KnowledgeSpec
from dialogs.loader import load_bot, nlu_files
from dialogs.runner import DialogRunner
from nlu.result import NluBackend

log = get_logger(component="dialogs.reload")


def _yaml_only(change: watchfiles.Change, path: str) -> bool:
    return path.endswith((".yml", ".yaml", ".md"))  # .md: knowledge-base articles


class DialogReloader:
    def __init__(
        self,
        runner: DialogRunner,
        *,
        path: str | Path,
        nlu_data: Sequence[str] = (),
        nlu_loader: Callable[[], NluBackend] | None = None,
        env: dict[str, str] | None = None,
        debounce_ms: int = 150,
        knowledge: KnowledgeSpec | None = None,
    ) -> None:
        """``nlu_loader`` (blocking; run in a thread) builds the NLU again when its data
        changed; without it, NLU data changes only re-validate the dialogs."""
        self.runner = runner
        self.path = Path(path)
        self.nlu_data = tuple(nlu_data)
        self.nlu_loader = nlu_loader
        self.env = env
        self.debounce_ms = debounce_ms
        self.knowledge = knowledge
        self.reloads = 0  # versions swapped in
        self.refused = 0  # invalid versions refused
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _roots(self) -> list[str]:
        """The folders whose changes are dialogs or knowledge (not NLU data)."""
        roots = [self.path.resolve()]
        if self.knowledge is not None:
            roots.append(Path(self.knowledge.path).resolve())
        return [str(r) for r in roots]

    def watched(self) -> list[Path]:
        paths = {self.path.resolve()}
        if self.knowledge is not None:
            paths.add(Path(self.knowledge.path).resolve())
        paths.update(p.resolve().parent for p in nlu_files(self.nlu_data))
        return sorted(p for p in paths if p.exists())

    async def reload(self, *, nlu_changed: bool = False) -> list[ConfigProblem]:
        """Validate the files as they are now and swap them in if valid."""
        files = nlu_files(self.nlu_data) if self.nlu_data else None
        result = await asyncio.to_thread(
            load_bot, self.path, nlu_data=files, env=self.env, knowledge=self.knowledge
        )
        if result.bot is None:
            self.refused += 1
            for problem in result.problems:
                log.error("dialogs_reload_refused", problem=str(problem))
            return result.problems
        nlu: NluBackend | None = None
        if nlu_changed and self.nlu_loader is not None:
            try:
                nlu = await asyncio.to_thread(self.nlu_loader)
            except Exception as exc:  # a bad model must not stop the running bot
                self.refused += 1
                log.exception("nlu_reload_refused")
                return [ConfigProblem(str(self.path), 1, f"NLU could not be trained: {exc}")]
        self.runner.swap(result.bot, nlu)
        heap.settle()  # the new bot frozen, the old one's cycles collected (common/heap.py)
        self.reloads += 1
        log.info("dialogs_reloaded", version=result.bot.version, nlu=nlu is not None)
        return []

    async def run(self) -> None:
        watched = self.watched()
        nlu_paths = {str(p.resolve()) for p in nlu_files(self.nlu_data)}
        roots = self._roots()
        async for changes in watchfiles.awatch(
            *watched,
            watch_filter=_yaml_only,
            debounce=self.debounce_ms,
            step=30,
            stop_event=self._stop,
        ):
            changed = {p for _, p in changes}
            nlu_changed = bool(changed & nlu_paths) or any(
                not p.startswith(tuple(roots)) for p in changed
            )
            try:
                await self.reload(nlu_changed=nlu_changed)
            except Exception:
                log.exception("dialogs_reload_failed")

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
