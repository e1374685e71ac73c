"""Token healing with a constraint: the model must write the half-typed word first.

The engine asks for a completion from the start of the word being typed (`partial_word`:
a model continues a word cut where no tokenizer would cut it badly) and keeps only answers
that begin with the typed part. Left free, the small model often writes something else
first: after `i` at the start of a new cell it wrote `#` (a comment), an empty suggestion.
Here the first tokens are held to the typed part, as Microsoft guidance's token healing
does: while the text generated so far is shorter than the typed part, only a token whose
text is a prefix of what is left of it, or starts with all of it, can be sampled.

Bytes, not str: a token may hold part of a UTF-8 character.
"""

from __future__ import annotations

import bisect
from typing import Any, Callable, Sequence

import numpy as np


class Vocabulary:
    """Every token's text (bytes), with lookups by prefix; built once per model."""

    def __init__(self, pieces: Sequence[bytes]) -> None:
        self.pieces = list(pieces)
        self._exact: dict[bytes, list[int]] = {}
        for i, piece in enumerate(self.pieces):
            if piece:
                self._exact.setdefault(piece, []).append(i)
        order = sorted((p, i) for i, p in enumerate(self.pieces) if p)
        self._sorted = [p for p, _ in order]
        self._sorted_ids = [i for _, i in order]
        self._allowed: dict[bytes, np.ndarray] = {}

    @classmethod
    def from_model(cls, n_vocab: int, piece: Callable[[int], bytes]) -> "Vocabulary":
        return cls([piece(i) for i in range(n_vocab)])

    def allowed(self, rest: bytes) -> np.ndarray:
        """The ids of tokens that can come next when `rest` must be written first: those
        whose text starts with `rest`, and those whose text is a shorter prefix of it."""
        hit = self._allowed.get(rest)
        if hit is not None:
            return hit
        ids: list[int] = []
        k = bisect.bisect_left(self._sorted, rest)
        while k < len(self._sorted) and self._sorted[k].startswith(rest):
            ids.append(self._sorted_ids[k])
            k += 1
        for n in range(1, len(rest)):
            ids.extend(self._exact.get(rest[:n], ()))
        out = np.array(sorted(set(ids)), dtype=np.intp)
        if len(self._allowed) > 4096:  # typed words are few; keep the table bounded
            self._allowed.clear()
        self._allowed[rest] = out
        return out


class HealConstraint:
    """A llama-cpp-python logits processor that holds the first tokens to `heal`.

    Called with the ids so far (prompt and generated) and the next token's scores; the
    first call sees the prompt alone, so the prompt's length is learnt there."""

    def __init__(self, vocab: Vocabulary, heal: bytes) -> None:
        self.vocab = vocab
        self.heal = heal
        self._prompt_len: int | None = None
        # once the word is written the processor is called for every later token too:
        # then it returns at once rather than join the tokens again
        self._released = False

    def rest(self, input_ids: Sequence[int]) -> bytes:
        """What of `heal` the generated tokens have not written yet (b'' once they have,
        or if they went elsewhere: then nothing is held)."""
        if self._released:
            return b""
        if self._prompt_len is None:
            self._prompt_len = len(input_ids)
        written = b"".join(self.vocab.pieces[int(i)] for i in input_ids[self._prompt_len:])
        if len(written) >= len(self.heal) or not self.heal.startswith(written):
            self._released = True
            return b""
        return self.heal[len(written):]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        rest = self.rest(input_ids)
        if not rest:
            return scores
        allowed = self.vocab.allowed(rest)
        if allowed.size == 0:
            return scores  # no token fits (a byte no token has): leave the model free
        held = np.full_like(scores, -np.inf)
        held[allowed] = scores[allowed]
        return held


def split_heal(vocab: Vocabulary, heal_ids: Sequence[int], heal: bytes) -> tuple[list[int], bytes]:
    """The typed word's tokens but its last, to go after the prompt as if the model had
    written them, and the bytes left for HealConstraint to hold the next token to.

    Why: held whole, the word is written again one sampled token at a time (37 ms a token
    on 2 cores) before anything new shows; typing `gdp_ye` cost four tokens, longer than
    the 150 ms between keys, so mid-word no suggestion showed until the word ended. Given
    as prompt, the typed part is evaluated in one batch, and only the last token, where
    the tokenizer cut the word where the model might not, is left to the model (classic
    token healing backs up one token). The forced part is cut back until it is whole UTF-8
    text, since it is sent on as the stream's first text."""
    ids = list(heal_ids)
    for n in range(len(ids) - 1, 0, -1):
        written = b"".join(vocab.pieces[int(i)] for i in ids[:n])
        if not written or not heal.startswith(written) or len(written) >= len(heal):
            continue
        try:
            written.decode("utf-8")
        except UnicodeDecodeError:
            continue
        return ids[:n], heal[len(written):]
    return [], heal
