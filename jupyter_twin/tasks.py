"""Chat tasks over a cell: explain, refactor, fix, document, test, ask.

Each message puts the stable part first (instructions, the other cells, kernel facts) and
the cell itself and the request last, so that a backend's prompt cache covers the context.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass

SYSTEM = (
    "You are jupyter_twin, a coding assistant inside a Jupyter notebook. You are given cells "
    "of the notebook as context and one cell to work on. Be precise and brief. When asked "
    "for code, answer with one complete ```python code block that can replace the cell."
)


@dataclass(frozen=True)
class Task:
    name: str
    kind: str  # what the result is: "code" or "markdown"
    instruction: str
    #: what a button or command says; the command line's and the magics' short name
    label: str = ""
    short: str = ""
    #: JupyterLab's default keys: the extension binds them from the served task list
    shortcut: str = ""
    #: the command line's help for `jupyter-twin <short> NOTEBOOK --cell N`
    help: str = ""

    @property
    def command(self) -> str:
        return self.short or self.name

    def public(self) -> dict[str, str]:
        """What the server serves the front end about this task."""
        return {"name": self.name, "label": self.label, "kind": self.kind, "shortcut": self.shortcut,
                "command": self.command}


TASKS: dict[str, Task] = {
    "explain": Task(
        "explain", "markdown",
        "Explain what this cell does and why, in Markdown: a one-sentence summary, then the "
        "key steps as a short list. Mention names that come from other cells. No code rewrite.",
        label="Explain", shortcut="Alt Shift E",
        help="Explain cell N; the explanation goes in as a new markdown cell after it.",
    ),
    "refactor": Task(
        "refactor", "code",
        "Refactor this cell. {instruction} Keep its behaviour and the names other cells use. "
        "Reply with the whole refactored cell in one ```python block and nothing else.",
        label="Refactor", shortcut="Alt Shift R",
        help="Refactor cell N (optionally following --instruction); the result goes in as a new code cell after it.",
    ),
    "fix": Task(
        "fix", "code",
        "This cell fails with the error below. Fix the cell.\n\nError:\n```\n{error}\n```\n"
        "Reply with the whole corrected cell in one ```python block, then one sentence on the cause.",
        label="Fix", shortcut="Alt Shift F",
        help="Fix cell N using its error output; the fixed code goes in as a new code cell after it.",
    ),
    "document": Task(
        "document", "code",
        "Add docstrings to the functions and classes of this cell and short comments where "
        "the code is not obvious. Do not change the code itself. Reply with the whole cell in "
        "one ```python block and nothing else.",
        label="Document", short="doc", shortcut="Alt Shift D",
        help="Add docstrings and comments to cell N; the result goes in as a new code cell after it.",
    ),
    "test": Task(
        "test", "code",
        "Write a notebook cell of tests for this cell: plain `assert` statements or test "
        "functions that the cell calls at its end, covering normal and edge cases. Reply with "
        "the test cell in one ```python block and nothing else.",
        label="Write tests", shortcut="Alt Shift T",
        help="Write tests for cell N; they go in as a new code cell after it.",
    ),
    "ask": Task("ask", "markdown", "{question}", label="Ask"),
}

DEFAULT_REFACTOR = "Make it clearer and more idiomatic."


#: other names of tasks (the command line's and the magics' short ones): "doc" -> "document"
ALIASES: dict[str, str] = {t.short: t.name for t in TASKS.values() if t.short}


def task_by_name(name: str) -> Task:
    """A task by its name or its short name ("doc")."""
    try:
        return TASKS[ALIASES.get(name, name)]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}") from None


def task_list() -> list[dict[str, str]]:
    """The tasks as the server serves them (the front end builds its buttons from it)."""
    return [t.public() for t in TASKS.values()]


def chat_context(stable: str) -> str:
    """The percent-format context as separate cells for a chat model: markdown as text,
    each code cell in its own block. One script with "# %%" markers invites small models
    to copy the markers (and the script) into their answer."""
    chunks = re.split(r"^# %%(.*)$", stable.strip(), flags=re.M)
    out = []
    # re.split gives [before, header1, body1, header2, body2, ...]
    for header, body in zip(chunks[1::2], chunks[2::2]):
        body = body.strip("\n")
        if not body.strip():
            continue
        if "[markdown]" in header or "[raw]" in header:
            out.append("\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines()))
        else:
            out.append("```python\n" + body + "\n```")
    return "\n\n".join(out)


def build_messages(
    task: Task,
    *,
    stable: str,
    cell_source: str,
    cell_label: str,
    instruction: str | None = None,
    error: str | None = None,
    question: str | None = None,
    facts: str = "",
    history: list[dict[str, str]] | None = None,
) -> list[dict[str, str]]:
    """System, then the context and the cell, then the request: stable before volatile.

    Earlier turns of a chat (`history`, oldest first) become real user/assistant turns
    after the context, so that the context stays at the head of the prompt and the
    backend's prompt cache keeps it from one question to the next."""
    parts = []
    if stable.strip():
        parts.append("Other cells of the notebook, for context:\n\n" + chat_context(stable))
    if facts.strip():
        # a plain list, outside any code block: small models copy code blocks into answers
        listed = "\n".join("- " + line.lstrip("# ").strip() for line in facts.splitlines()[1:])
        parts.append("Live variables in the kernel (for reference only, do not repeat them):\n" + listed)
    parts.append(f"The cell to work on ({cell_label}):\n```python\n{cell_source.rstrip()}\n```")
    request = task.instruction.format(
        instruction=(instruction or DEFAULT_REFACTOR).strip(),
        error=(error or "(no error output was found)").strip(),
        question=(question or "What does this cell do?").strip(),
    )
    turns = recent_turns(history or [])
    if turns and turns[-1]["role"] == "user":
        # a question whose answer was stopped: it still says what "it" refers to
        request = turns.pop()["content"] + "\n\n" + request
    if not turns:
        parts.append(request)
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]
    # the first question rides with the context; the rest of the chat follows as turns
    parts.append(turns[0]["content"])
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]
    messages += turns[1:]
    messages.append({"role": "user", "content": request})
    return messages


HISTORY_CHARS = 3000
TURN_CHARS = 1200


def check_history(history: object) -> list[dict[str, str]]:
    """A chat history as a list of {"role": "user"|"assistant", "content": str}, or ValueError."""
    if not isinstance(history, list) or not all(
        isinstance(h, dict) and h.get("role") in ("user", "assistant") and isinstance(h.get("content"), str)
        for h in history
    ):
        raise ValueError("a chat history is a list of {'role': 'user' or 'assistant', 'content': str}")
    return history


def recent_turns(history: list[dict[str, str]], max_chars: int = HISTORY_CHARS) -> list[dict[str, str]]:
    """The latest turns that fit in `max_chars`, starting with a user turn, roles alternating
    (chat templates reject two user turns in a row: consecutive turns of one role are
    joined); each turn clipped to TURN_CHARS."""
    kept: list[dict[str, str]] = []
    used = 0
    for turn in reversed(check_history(history)):
        text = turn["content"].strip()
        if not text:
            continue
        if len(text) > TURN_CHARS:
            text = text[:TURN_CHARS] + " ..."
        if used + len(text) > max_chars:
            break
        used += len(text)
        if kept and kept[0]["role"] == turn["role"]:
            kept[0] = {"role": turn["role"], "content": text + "\n\n" + kept[0]["content"]}
        else:
            kept.insert(0, {"role": turn["role"], "content": text})
    while kept and kept[0]["role"] != "user":
        kept.pop(0)
    return kept


# how much the choice between several code blocks reads (a hostile answer can hold
# thousands of blocks, and a cell can be megabytes)
_SIMILARITY_BLOCKS = 16
_SIMILARITY_CHARS = 4000
_FENCE_LANG = re.compile(r"[ \t]*([\w+-]*)")
_FENCE_CLOSE = re.compile(r"\n[ \t]*```")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    r"""``(language, body)`` of each fenced block, as the single regex
    ``"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:\n[ \t]*```|\Z)"`` (re.S) found them, in linear
    time: that regex backtracks over the whole rest of the line for every fence opening
    on a last line without a newline (quadratic on hostile model text)."""
    blocks = []
    pos = 0
    while True:
        start = text.find("```", pos)
        if start < 0:
            break
        newline = text.find("\n", start)
        if newline < 0:  # an opening needs its line's end; the later ones have none either
            break
        lang = _FENCE_LANG.match(text, start + 3, newline).group(1)
        close = _FENCE_CLOSE.search(text, newline + 1)
        if close is None:
            blocks.append((lang, text[newline + 1:]))
            break
        blocks.append((lang, text[newline + 1:close.start()]))
        pos = close.end()
    return blocks


def extract_code(text: str, cell_source: str = "") -> str:
    """The code of an answer: its python code block, without fences or chatter."""
    blocks = [(lang.lower(), body) for lang, body in fenced_blocks(text)]
    if blocks:
        python = [b for lang, b in blocks if lang in ("python", "py", "python3", "ipython", "")]
        chosen = python or [b for _, b in blocks]
        # small models sometimes echo the context cells (with their "# %%" markers) first
        answers = [b for b in chosen if not re.search(r"^# %%", b, re.M)] or chosen
        if cell_source and len(answers) > 1:
            # the answer reworks the cell: the block closest to it, not a usage snippet
            # (difflib is quadratic: compare the first few blocks, on a window of each)
            window = cell_source[:_SIMILARITY_CHARS]
            return max(
                answers[:_SIMILARITY_BLOCKS],
                key=lambda b: difflib.SequenceMatcher(None, b[:_SIMILARITY_CHARS], window).ratio(),
            ).strip("\n").rstrip()
        return max(answers, key=len).strip("\n").rstrip()
    stripped = text.strip()
    try:
        ast.parse(stripped)
        return stripped
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # not Python; ValueError: lone surrogates or NUL bytes, which the parser cannot
        # encode (found by tests/engine/test_pathological.py); the others: deep nesting
        pass
    lines = stripped.splitlines()
    # drop chatter lines before the code starts ("Here is the refactored cell:")
    while lines and re.match(r"^(here|sure|certainly|this|the|below|i )", lines[0].strip(), re.I):
        lines.pop(0)
    return "\n".join(lines).strip()


def clean_markdown(text: str) -> str:
    return text.strip()


def finish(task: Task, text: str, cell_source: str = "") -> str:
    return extract_code(text, cell_source) if task.kind == "code" else clean_markdown(text)
