"""Completions beside a long chat answer in the shared model process (issue 14, point 2).

    python benchmarks/model_process_fairness.py [-n 10]

Prints: completion latency alone; completion latency while a 768-token chat answer
streams (each role has its own llama.cpp context in the one process); whether the chat
answer ran to its end; and the model process's memory (RSS and PSS: the weights are one
mmapped file, shared by both contexts).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_twin import Twin  # noqa: E402

CELLS = [
    {"cell_type": "code", "source": "import numpy as np\nprices = np.array([3.0, 4.5, 10.0])"},
    {"cell_type": "code", "source": "def add(a, b):\n    "},
]


def memory(pid: int) -> tuple[float, float]:
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss / 1024, pss / 1024


def timed_completions(twin: Twin, n: int, serial: list[int]) -> list[float]:
    out = []
    for _ in range(n):
        serial[0] += 1
        cells = [dict(CELLS[0]), {"cell_type": "code", "source": f"# try {serial[0]}\ndef add(a, b):\n    "}]
        t = time.monotonic()
        twin.complete(cells, 1)
        out.append(time.monotonic() - t)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=10)
    args = p.parse_args()
    twin = Twin(backend="embedded", max_tokens_chat=768)
    twin.backend.info()
    serial = [0]
    timed_completions(twin, 2, serial)  # warm
    alone = timed_completions(twin, args.n, serial)
    chat = twin.stream("ask", CELLS, 1, question="Write a long, detailed tutorial on Python decorators with many examples.")
    result: dict = {}

    def consume() -> None:
        t = time.monotonic()
        result["text"] = chat.result()
        result["seconds"] = time.monotonic() - t

    reader = threading.Thread(target=consume)
    reader.start()
    while not chat.text:
        time.sleep(0.01)
    during = timed_completions(twin, args.n, serial)
    still_streaming = reader.is_alive()
    reader.join()
    pid = twin.backend.process.current().pid
    rss, pss = memory(pid)
    roles = twin.backend.process.stats()["roles"]
    print(f"completion alone:               median {statistics.median(alone):.3f} s, max {max(alone):.3f} s (n={len(alone)})")
    print(f"completion during a chat answer: median {statistics.median(during):.3f} s, max {max(during):.3f} s "
          f"(n={len(during)}; chat still streaming after them: {still_streaming})")
    print(f"chat answer: {len(result['text'])} characters in {result['seconds']:.1f} s, "
          f"ended {chat.done_reason!r}, cancelled: {chat.cancelled}")
    print(f"roles: " + ", ".join(f"{k} started {v['started']} cancelled {v['cancelled']}" for k, v in roles.items()))
    print(f"model process memory: RSS {rss:.0f} MB, PSS {pss:.0f} MB")


if __name__ == "__main__":
    main()
