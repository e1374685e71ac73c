"""Token healing's constraint (jupyter_twin/modelproc/healing.py) on a small vocabulary:
while the typed part of the word is not written yet, only tokens that write it can come."""

from __future__ import annotations

import numpy as np

from jupyter_twin.modelproc.healing import HealConstraint, Vocabulary, split_heal

PIECES = [b"", b"#", b"i", b"im", b"import", b"imp", b" pandas", b"in", b"x", b"\xc3", b"\xa9t\xc3\xa9", b"port"]


def ids(vocab: Vocabulary, rest: bytes) -> list[int]:
    return [PIECES[i] for i in vocab.allowed(rest)]


def test_allowed_tokens_write_the_rest_or_a_start_of_it() -> None:
    vocab = Vocabulary(PIECES)
    assert sorted(ids(vocab, b"im")) == sorted([b"im", b"import", b"imp", b"i"])
    assert sorted(ids(vocab, b"imp")) == sorted([b"imp", b"import", b"i", b"im"])
    assert ids(vocab, b"port") == [b"port"]
    # a character cut between tokens (UTF-8 bytes)
    assert ids(vocab, b"\xc3\xa9t") == [b"\xc3"]
    assert ids(vocab, b"\xa9t") == [b"\xa9t\xc3\xa9"]
    assert ids(vocab, b"zz") == []  # no token: the constraint then lets the model go free


def test_the_constraint_holds_the_first_tokens_then_lets_go() -> None:
    vocab = Vocabulary(PIECES)
    heal = HealConstraint(vocab, b"imp")
    prompt = [7, 8, 1]  # the first call sees the prompt alone
    scores = np.arange(len(PIECES), dtype=np.float32)
    held = heal(prompt, scores.copy())
    free = [PIECES[i] for i in np.flatnonzero(np.isfinite(held))]
    assert sorted(free) == sorted([b"i", b"im", b"imp", b"import"])
    assert held[4] == scores[4]  # the allowed keep their scores
    # "im" written: "p" is left, and only tokens that start with it may follow
    assert heal.rest(prompt + [3]) == b"p"
    held = heal(prompt + [3], scores.copy())
    assert [PIECES[i] for i in np.flatnonzero(np.isfinite(held))] == [b"port"]
    # "i" written: "mp" is left, which no token here starts: the model is left free
    assert heal.rest(prompt + [2]) == b"mp"
    assert np.array_equal(heal(prompt + [2], scores.copy()), scores)
    # a token that went elsewhere (it cannot under the constraint): nothing is held
    assert heal.rest(prompt + [1]) == b""
    # "import" written: the word is done, the model is free
    assert heal.rest(prompt + [4]) == b""
    assert np.array_equal(heal(prompt + [4], scores.copy()), scores)


def test_no_token_fits_leaves_the_scores_alone() -> None:
    heal = HealConstraint(Vocabulary(PIECES), b"qq")
    scores = np.ones(len(PIECES), dtype=np.float32)
    assert np.array_equal(heal([1, 2], scores.copy()), scores)


def test_the_typed_word_but_its_last_token_goes_in_as_prompt() -> None:
    vocab = Vocabulary(PIECES)
    # all the word's tokens but the last go in as prompt; the constraint holds the rest
    assert split_heal(vocab, [2, 11], b"iport") == ([2], b"port")
    assert split_heal(vocab, [3, 11], b"import") == ([3], b"port")
    # one token: nothing forced, the constraint holds it all
    assert split_heal(vocab, [5], b"imp") == ([], b"imp")
    # a forced part that would end inside a UTF-8 character is cut back to whole text
    assert split_heal(vocab, [8, 9, 10], b"x\xc3\xa9t\xc3\xa9") == ([8], b"\xc3\xa9t\xc3\xa9")
    # tokens that do not spell the word (a tokenizer that normalised it): nothing forced
    assert split_heal(vocab, [6, 8], b"px") == ([], b"px")
