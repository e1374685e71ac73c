"""Completions already made, reused with no request: at a place seen before, and while the
user types the characters that the suggestion on screen starts with (llama.vim's cache).

An entry is the text to insert at a cursor, keyed by everything the completion depends on:
the notebook around the cell (`notebook_key`), the cell's text before and after the
cursor. A lookup at a cursor further on in the same cell finds the entry whose suggestion
starts with what was typed since, and answers with the rest of it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .cells import Cell

#: entries kept (least recently used go first); each is a few hundred bytes
MAX_ENTRIES = 512


def notebook_key(cells: Sequence[Cell], index: int, kernel_facts: Iterable[Mapping[str, Any]] | None, extra: str) -> str:
    """A digest of what a completion depends on besides the active cell's own text: the
    other cells (their kind, text and run), the kernel facts, and `extra` (the model and
    the context strategy)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(extra.encode("utf-8", "surrogatepass"))
    for j, cell in enumerate(cells):
        if j == index:
            h.update(b"\0active\0")
            continue
        h.update(f"\0{cell.cell_type}\0{cell.execution_count}\0{len(cell.outputs)}\0".encode())
        h.update(cell.source.encode("utf-8", "surrogatepass"))
    for fact in kernel_facts or ():
        h.update(b"\0fact\0" + repr(sorted(fact.items(), key=lambda kv: str(kv[0]))).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@dataclass(frozen=True)
class Hit:
    text: str
    #: the characters typed since the cached suggestion was made ("" at the same place)
    typed: str


class CompletionCache:
    """A small LRU of finished completions; thread safe; counts hits for /status."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()
        # the longest suggestion ever put: how far back a typed-ahead lookup looks (an upper
        # bound kept as entries come, so a keystroke's lookup never scans the cache)
        self._longest = 0
        self.hits = 0
        self.typed_ahead = 0
        self.misses = 0
        #: requests answered by joining the prefetch of their place (no second generation)
        self.prefetched = 0

    def count_prefetched(self) -> None:
        with self._lock:
            self.prefetched += 1

    def put(self, notebook: str, prefix: str, suffix: str, text: str) -> None:
        key = (notebook, prefix, suffix)
        with self._lock:
            self._entries[key] = text
            self._entries.move_to_end(key)
            self._longest = max(self._longest, len(text))
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def get(self, notebook: str, prefix: str, suffix: str, *, count: bool = True) -> Hit | None:
        """The suggestion for this place: a cached one made here, or one made a few
        characters back whose start the user has typed since (then the rest of it)."""
        with self._lock:
            hit = self._find(notebook, prefix, suffix)
            if count:
                if hit is None:
                    self.misses += 1
                else:
                    self.hits += 1
                    self.typed_ahead += bool(hit.typed)
            return hit

    def _find(self, notebook: str, prefix: str, suffix: str) -> Hit | None:
        exact = self._entries.get((notebook, prefix, suffix))
        if exact is not None:
            self._entries.move_to_end((notebook, prefix, suffix))
            return Hit(exact, "")
        # typed ahead: an entry made at prefix[:-k] whose text starts with the k characters
        # typed since and goes on past them (a suggestion typed out in full is used up)
        longest = self._longest
        for k in range(1, min(len(prefix), longest) + 1):
            key = (notebook, prefix[:-k], suffix)
            text = self._entries.get(key)
            if text is not None and len(text) > k and text.startswith(prefix[-k:]):
                self._entries.move_to_end(key)
                return Hit(text[k:], prefix[-k:])
        return None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self.hits, "typed_ahead": self.typed_ahead, "misses": self.misses,
                    "prefetched": self.prefetched, "entries": len(self._entries)}
