"""Short garbage-collector pauses in a long-running process.

A full collection (generation 2) walks every tracked object. After start-up that is mostly the
bot: the NLU model's vocabularies and tables, the tokenizer's, the sentiment lexicon's, the
dialogs, the libraries' modules. On the example bot one full pass took 70-110 ms, an event-loop
pause that every webhook arriving meanwhile waited out (the acknowledgements' p99 jumped from
about 35 ms to about 120 ms whenever one fell inside a run). ``settle()`` collects once and then
freezes what is alive (``gc.freeze``), so later passes walk only what turns allocate since.

Frozen objects are still freed when nothing refers to them (reference counting); only cycles
among them would wait for the next ``settle()``, which unfreezes, collects and freezes again.
Called once the process has started, and after each reload of the dialogs or NLU.
"""

from __future__ import annotations

import gc


def settle() -> None:
    gc.unfreeze()
    gc.collect()
    gc.freeze()
