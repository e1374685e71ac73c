import pytest

from jupyter_twin.families import (
    CODEGEMMA, CODELLAMA, CODESTRAL, DEEPSEEK, PLAIN, QWEN, STARCODER, detect_family,
    family_by_name, family_from_model_name,
)


@pytest.mark.parametrize(
    "name, family",
    [
        ("codestral", CODESTRAL),
        ("codestral:22b-v0.1-q4_K_M", CODESTRAL),
        ("qwen2.5-coder:7b", QWEN),
        ("Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf", QWEN),
        ("deepseek-coder:6.7b-base", DEEPSEEK),
        ("deepseek-coder-v2:16b", DEEPSEEK),
        ("starcoder2:3b", STARCODER),
        ("bigcode/starcoder", STARCODER),
        ("codellama:7b-code", CODELLAMA),
        ("codegemma:2b", CODEGEMMA),
        ("llama3.1:8b", None),
        ("gemma2:9b", None),
    ],
)
def test_family_from_model_name(name, family):
    assert family_from_model_name(name) is family


def test_fallback_and_override():
    assert detect_family("my-private-model") is PLAIN
    assert detect_family("my-private-model", override="qwen") is QWEN
    with pytest.raises(ValueError, match="unknown model family"):
        family_by_name("nope")


def test_details_and_template_beat_unknown_names():
    # Ollama's /api/show: a renamed model still shows its family and template
    assert detect_family("work-model", details={"family": "qwen2", "families": ["qwen2"]}) is QWEN
    template = "{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>{{ end }}"
    assert detect_family("work-model", template=template) is QWEN
    assert detect_family("x", template="[SUFFIX]{{ .Suffix }}[PREFIX] {{ .Prompt }}") is CODESTRAL


def test_vocabulary_detection_prefers_codegemma_over_qwen():
    vocab = {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_separator|>"}
    assert detect_family("x", vocabulary=vocab) is CODEGEMMA
    vocab_q = {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|repo_name|>", "<|file_sep|>"}
    assert detect_family("x", vocabulary=vocab_q) is QWEN


# Each family's format exactly as documented (../shared/docs/models-and-backends.md).
@pytest.mark.parametrize(
    "family, expected",
    [
        (CODESTRAL, "[SUFFIX]SUF[PREFIX]PRE"),
        (QWEN, "<|fim_prefix|>PRE<|fim_suffix|>SUF<|fim_middle|>"),
        (DEEPSEEK, "<\uff5cfim\u2581begin\uff5c>PRE<\uff5cfim\u2581hole\uff5c>SUF<\uff5cfim\u2581end\uff5c>"),
        (STARCODER, "<fim_prefix>PRE<fim_suffix>SUF<fim_middle>"),
        (CODELLAMA, "<PRE> PRE <SUF>SUF <MID>"),
        (CODEGEMMA, "<|fim_prefix|>PRE<|fim_suffix|>SUF<|fim_middle|>"),
        (PLAIN, "PRE"),
    ],
)
def test_render_fim(family, expected):
    assert family.render_fim("PRE", "SUF") == expected


def test_stop_tokens_exact():
    assert QWEN.stop == ("<|endoftext|>", "<|file_sep|>", "<|fim_pad|>", "<|fim_prefix|>", "<|im_end|>")
    assert CODESTRAL.stop == ("[PREFIX]", "[SUFFIX]", "</s>")
    # the peers' bug: an ASCII space or underscore in place of U+2581 never matches
    assert DEEPSEEK.stop == ("<\uff5cend\u2581of\u2581sentence\uff5c>", "<|EOT|>")
    assert all("\u2581" in t or t == "<|EOT|>" for t in DEEPSEEK.stop)
    assert STARCODER.stop == ("<|endoftext|>", "<file_sep>")
    assert CODELLAMA.stop == ("<EOT>",)
    # the peers' bug: StarCoder's tokens used for CodeGemma
    assert CODEGEMMA.stop == ("<|file_separator|>", "<|fim_prefix|>")
    assert "<fim_prefix>" not in CODEGEMMA.render_fim("a", "b")
