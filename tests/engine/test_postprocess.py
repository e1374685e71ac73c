from jupyter_twin.postprocess import clean_completion, completion_mode, strip_suffix_overlap


def test_mode():
    assert completion_mode("x = foo(", ")") == "line"
    assert completion_mode("for i in range(3):\n    ", "") == "block"
    assert completion_mode("a = 1\n", "\nb = 2") == "line"
    assert completion_mode("if x:\n    # comment\n    ", "") == "block"


def test_single_line_stops_at_newline():
    assert clean_completion("parse(\"1.0.1\")\nprint(1)", "assert version.", "") == 'parse("1.0.1")'


def test_overlap_with_text_after_cursor_removed():
    assert clean_completion("head())", "print(df.", ")") == "head()"
    assert strip_suffix_overlap("x, y)", ")") == "x, y"
    # a multi-character overlap
    assert clean_completion("a + b, axis=1)", "np.sum(", ", axis=1)") == "a + b"


def test_never_echo_prefix():
    assert clean_completion("model.fit(X, y)", "model.fit(", "") == "X, y)"


def test_block_stops_at_dedent_and_next_cell():
    raw = "total += x\n    count += 1\nprint(total)\n"
    assert clean_completion(raw, "for x in xs:\n    ", "") == "total += x\n    count += 1"
    raw2 = "return a + b\n\n# %%\nadd(1, 2)"
    assert clean_completion(raw2, "def add(a, b):\n    ", "") == "return a + b"


def test_block_when_model_starts_with_newline():
    raw = "\n    return x * 2\n"
    assert clean_completion(raw, "def f(x):\n    ", "") == "return x * 2"


def test_cell_markers_end_the_completion():
    assert clean_completion("x = 1\n# %%\ny = 2", "a = 0\n", "") == "x = 1"
    assert clean_completion("```", "a = ", "") == ""
    # the prompt writes a cell's output as "# Out: ..." after its code: a model that
    # writes one has left the cell
    assert clean_completion("# Out: <Figure size 864x216 with 3 Axes>", "for x in y:\n    ", "\n    f(x)") == ""
    assert clean_completion("plt.grid()\n# Out: 3", "plt.plot(x)\n", "") == "plt.grid()"


def test_line_at_empty_line_start_skips_leading_newline():
    assert clean_completion("\nresult = f(1)\nmore", "x = 1\n", "\nprint(result)") == "result = f(1)"


def test_unbalanced_closer_trimmed():
    assert clean_completion("3)", "x = ", "") == "3"


def test_line_inside_existing_body_is_single_line():
    assert completion_mode("for x in xs:\n    ", "\n    print(x)\nprint('done')") == "line"
    assert completion_mode("for x in xs:\n    ", "\nprint('done')") == "block"


def test_partial_word_and_unheal():
    from jupyter_twin.postprocess import partial_word, unheal

    assert partial_word("print(tot", ")") == "tot"
    assert partial_word("print(tot", "al)") == ""  # cursor inside a word: nothing to heal
    assert partial_word("x = ", "") == ""
    assert partial_word("a" * 30, "") == ""
    assert unheal("total)", "tot") == "al)"
    assert unheal("sum)", "tot") == ""


def test_closers_allowed_for_brackets_opened_on_earlier_lines():
    prefix = "df = pd.DataFrame(data,\n                  "
    assert clean_completion("index=idx)", prefix, "") == "index=idx)"
    assert clean_completion("index=idx))", prefix, "") == "index=idx)"


def test_partial_word_ignores_a_trailing_newline():
    from jupyter_twin.postprocess import partial_word

    assert partial_word("# prepare the data\n", "") == ""


def test_indentation_not_doubled_on_an_indented_line():
    assert clean_completion("    x = 1", "def f():\n    y = 0\n    ", "\n    return y") == "x = 1"


def test_is_finished_stops_the_model_at_the_right_moment():
    from jupyter_twin.postprocess import is_finished

    assert not is_finished("parse(", "assert version.", "")
    assert is_finished('parse("1")\n', "assert version.", "")
    # at the start of an empty line a leading newline is not the end
    assert not is_finished("\n", "x = 1\n", "")
    assert is_finished("\ny = 2\n", "x = 1\n", "")
    # a block ends at the first line that dedents below the body
    assert not is_finished("return a\n    ", "def f(a):\n    ", "")
    assert is_finished("return a\nprint", "def f(a):\n    ", "")


def test_repeat_of_the_last_piece_before_the_cursor_dropped():
    prefix = 'plt.title(f"degree='
    assert clean_completion('degree={model.degree}, "', prefix, '\n') == '{model.degree}, "'
    assert clean_completion("plt.show()", "x = 1\nplt.", "") == "show()"
    # a completion that merely starts like the piece is kept
    assert clean_completion("(x)", "y = np.sum", "") == "(x)"
    assert clean_completion("ab", "x = ab", "") == "ab"


def test_the_cells_last_line_again_is_not_suggested():
    prefix, suffix = "plt.plot(x, y)\n", "\nsave_fig('plot')\nplt.show()\n"
    assert clean_completion("plt.show()\n", prefix, suffix) == ""
    assert clean_completion("plt.grid()\n", prefix, suffix) == "plt.grid()"
    # indented, inside a loop: the whole line with its indentation is compared
    assert clean_completion("    print(i)\n", "for i in range(3):\n    ", "\n    print(i)") == ""


def test_a_line_repeated_elsewhere_below_is_kept():
    # HumanEval/59: `return False` at this depth; the cell has it again deeper, and ends otherwise
    prefix = "def f(k):\n    if k < 2:\n"
    suffix = "    for i in range(2, k):\n        if k % i == 0:\n            return False\n    return True\n"
    assert clean_completion("        return False\n", prefix, suffix) == "        return False"
    # the same text as the last line but at another indentation is another line
    assert clean_completion("        return True\n", prefix, suffix) == "        return True"


def test_rest_of_a_line_may_repeat_text_below():
    # mid-line the suggestion completes the line being typed; it is not a whole line
    assert clean_completion("show()", "plt.", "\nplt.show()") == "show()"
