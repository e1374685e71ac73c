"""Reading a magic's line: options declared with IPython's magic_arguments (so
``%%refactor?`` and ``%%refactor --help`` list them, and argparse parses them), and the
free text after them kept verbatim (an instruction like ``don't use loops`` needs no quotes).
"""

from __future__ import annotations

import argparse
import functools
import shlex
from typing import Any, Callable

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument

from ...settings import BACKENDS

# an option not given is left out of the result, so the magics' defaults (traits) apply
UNSET = argparse.SUPPRESS

#: the backends a user can name, "auto" last (as the messages have always listed them)
BACKEND_NAMES = ", ".join(sorted(BACKENDS, key=lambda name: name == "auto"))

Magic = Callable[..., Any]


class OptionError(ValueError):
    """A bad line: reported in one line, never as a traceback."""


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _group(*decorators: argument) -> Callable[[Magic], Magic]:
    def apply(func: Magic) -> Magic:
        for decorator in reversed(decorators):  # magic_arguments reads them bottom-up
            func = decorator(func)
        return func

    return apply


help_option = argument("-h", "--help", action="store_true", default=UNSET, help="show this help and do nothing")

engine_options = _group(
    argument("-m", "--model", metavar="NAME", default=UNSET, help="the model for this command"),
    argument("-b", "--backend", metavar="NAME", default=UNSET, help=f"the backend for this command: {BACKEND_NAMES}"),
    argument("--host", metavar="URL", default=UNSET, help="the backend's server address for this command"),
)

context_options = _group(
    # no argparse choices: the trait's value is checked by the same rule (TwinMagics.context_for)
    argument("--source", metavar="live|saved|history", default=UNSET,
             help="where the neighbouring cells come from (default: the first that is there)"),
    argument("--no-facts", dest="facts", action="store_false", default=UNSET,
             help="send no facts about the kernel's variables"),
    argument("--facts", dest="facts", action="store_true", default=UNSET,
             help="send facts about the variables the cell uses (the default)"),
)

insert_options = _group(
    argument("--no-insert", dest="insert", action="store_false", default=UNSET,
             help="show the code only; insert no new cell"),
    argument("--insert", dest="insert", action="store_true", default=UNSET,
             help="insert the code as a new cell below (the default)"),
)

#: what every task magic takes
task_options = _group(help_option, engine_options, context_options, insert_options)


def _next_word(text: str, option: str = "") -> tuple[str, str]:
    """The first shell word of ``text`` and the text after it, untouched."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        word = lexer.get_token() or ""
    except ValueError:  # shlex: "No closing quotation"
        raise OptionError(f"unclosed quote after {option}" if option else "unclosed quote") from None
    return word, lexer.instream.read().strip()


def _parse(magic: Magic, words: list[str]) -> dict[str, Any]:
    try:
        return vars(magic.parser.parse_args(words))
    except UsageError as exc:  # MagicArgumentParser's error()
        raise OptionError(str(exc)) from None


def split(magic: Magic, line: str) -> tuple[dict[str, Any], str]:
    """The options at the start of ``line``, parsed by ``magic``'s parser, and the rest of
    the line verbatim (one pair of surrounding quotes taken off)."""
    parser = magic.parser
    words: list[str] = []
    rest = line.strip()
    while rest.startswith("-"):
        word, rest = _next_word(rest)
        if word == "--":
            break
        # which options take a value is the parser's own knowledge
        action = parser._option_string_actions.get(word.split("=", 1)[0])
        if action is None:
            raise OptionError(f"unknown option {word}")
        words.append(word)
        if action.nargs != 0 and "=" not in word and rest:
            value, rest = _next_word(rest, word)
            words.append(value)
    opts = _parse(magic, words)
    if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "\"'":
        rest = rest[1:-1]
    return opts, rest


def parse_words(magic: Magic, line: str) -> dict[str, Any]:
    """All of ``line`` parsed by ``magic``'s parser: for commands whose arguments are
    words (a model's name, on or off), options anywhere."""
    try:
        return vars(magic.parser.parse_argstring(line))
    except (UsageError, ValueError) as exc:  # ValueError: an unclosed quote
        raise OptionError(str(exc)) from None


def help_text(magic: Magic) -> str:
    # magic_arguments formats the usage as a reST block for the docstring (`%%refactor?`)
    return magic.parser.format_help().replace("::\n\n  ", "usage: ", 1).rstrip()


def usage_text(magic: Magic) -> str:
    return magic.parser.format_usage().replace("::\n\n  ", "usage: ", 1).rstrip()


def read(magic: Magic, line: str, report: Callable[[str], None], *, words: bool = False) -> tuple[dict[str, Any], str] | None:
    """``(options, free text)`` of a magic's line; None when the line was bad (reported
    with the magic's usage) or asked for ``--help`` (shown)."""
    try:
        if words:
            opts, rest = parse_words(magic, line), ""
        else:
            opts, rest = split(magic, line)
    except OptionError as exc:
        report(f"{exc}\n{usage_text(magic)}")
        return None
    if opts.pop("help", False):
        print(help_text(magic))
        return None
    return opts, rest


def cell_body(cell: str | None) -> str | None:
    """The cell body as the front end has it: IPython adds a newline at its end."""
    if cell is not None and cell.endswith("\n"):
        return cell[:-1]
    return cell


def parsed(*, words: bool = False) -> Callable[[Magic], Magic]:
    """Put above ``@magic_arguments``: the magic's line is read by its own parser, and the
    method is called as ``(self, opts, text, cell, raw)``: the options, the free text after
    them, the cell body (None for a line magic) and the magic as the user wrote it (the
    live notebook finds the cell by it). A bad line or ``--help`` is answered here (see
    `read`) and the method is not called. ``words``: see `parse_words`.

    ``%twin`` calls its commands as ``(rest, cell, raw)``; IPython calls a cell magic as
    ``(line, cell)``, and then its raw text is made here from the method's name, which is
    the name IPython registers it under."""

    def decorate(func: Magic) -> Magic:
        @functools.wraps(func)  # keeps ``parser`` and the help in the docstring
        def run(self: Any, line: str, cell: str | None, *raw: str) -> Any:
            got = read(run, line, self.state.report, words=words)
            if got is None:
                return None
            opts, text = got
            if not raw:
                cell = cell_body(cell) or ""
                raw = (f"%%{func.__name__} {line}".rstrip() + "\n" + cell,)
            return func(self, opts, text, cell, *raw)

        return run

    return decorate
