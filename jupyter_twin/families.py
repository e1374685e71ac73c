"""Model families: how each one spells fill-in-the-middle and where it stops.

The special tokens are single tokens in each model's vocabulary; a prompt with one
character wrong is read as plain text and the model answers nonsense, so the formats
are spelled out exactly (DeepSeek's use U+FF5C and U+2581, not '|' and '_').
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from .errors import SettingsError


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    # the rendered FIM prompt is before + prefix + middle + suffix + after, or for
    # suffix-first formats before + suffix + middle + prefix + after
    fim_parts: tuple[str, str, str] | None
    suffix_first: bool = False
    stop: tuple[str, ...] = ()
    # marks every special token of the format, used to detect the family from a vocabulary
    markers: tuple[str, ...] = ()

    @property
    def supports_fim(self) -> bool:
        return self.fim_parts is not None

    def render_fim(self, prefix: str, suffix: str) -> str:
        """The raw prompt for ``prefix`` and ``suffix`` in this family's own format."""
        if self.fim_parts is None:
            return prefix
        first, second, third = self.fim_parts
        if self.suffix_first:
            return f"{first}{suffix}{second}{prefix}{third}"
        return f"{first}{prefix}{second}{suffix}{third}"


CODESTRAL = Family(
    "codestral", "Codestral / Mistral",
    ("[SUFFIX]", "[PREFIX]", ""), suffix_first=True,
    stop=("[PREFIX]", "[SUFFIX]", "</s>"), markers=("[SUFFIX]", "[PREFIX]"),
)
QWEN = Family(
    "qwen", "Qwen2.5-Coder",
    ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    stop=("<|endoftext|>", "<|file_sep|>", "<|fim_pad|>", "<|fim_prefix|>", "<|im_end|>"),
    markers=("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|repo_name|>", "<|file_sep|>"),
)
DEEPSEEK = Family(
    "deepseek", "DeepSeek-Coder",
    ("<\uff5cfim\u2581begin\uff5c>", "<\uff5cfim\u2581hole\uff5c>", "<\uff5cfim\u2581end\uff5c>"),
    stop=("<\uff5cend\u2581of\u2581sentence\uff5c>", "<|EOT|>"),
    markers=("<\uff5cfim\u2581begin\uff5c>", "<\uff5cfim\u2581hole\uff5c>", "<\uff5cfim\u2581end\uff5c>"),
)
STARCODER = Family(
    "starcoder", "StarCoder / StarCoder2",
    ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
    stop=("<|endoftext|>", "<file_sep>"),
    markers=("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
)
CODELLAMA = Family(
    "codellama", "CodeLlama",
    ("<PRE> ", " <SUF>", " <MID>"),
    stop=("<EOT>",),
    markers=("<PRE>", "<SUF>", "<MID>"),
)
CODEGEMMA = Family(
    "codegemma", "CodeGemma",
    ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    stop=("<|file_separator|>", "<|fim_prefix|>"),
    markers=("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_separator|>"),
)
# No known FIM format: complete the text before the cursor and nothing else.
PLAIN = Family("plain", "unknown family (plain completion)", None, stop=())

FAMILIES: dict[str, Family] = {
    f.name: f for f in (CODESTRAL, QWEN, DEEPSEEK, STARCODER, CODELLAMA, CODEGEMMA, PLAIN)
}

# Order matters: "codegemma" must win over "gemma", "codellama" over "llama",
# "deepseek-coder" over a bare "deepseek".
_NAME_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"codestral|mistral|devstral", "codestral"),
    (r"codegemma", "codegemma"),
    (r"codellama|code-llama|code_llama", "codellama"),
    (r"deepseek", "deepseek"),
    (r"starcoder|star-coder", "starcoder"),
    (r"qwen", "qwen"),
)


def family_by_name(name: str) -> Family:
    # SettingsError is a ValueError: callers that caught ValueError still do
    try:
        return FAMILIES[str(name).lower()]
    except KeyError:
        raise SettingsError(
            f"unknown model family {name!r}; choose one of {', '.join(FAMILIES)}"
        ) from None


def family_from_model_name(model: str | None) -> Family | None:
    if not model:
        return None
    text = model.lower()
    for pattern, fam in _NAME_PATTERNS:
        if re.search(pattern, text):
            return FAMILIES[fam]
    return None


def family_from_vocabulary(tokens: Iterable[str]) -> Family | None:
    """The family whose FIM special tokens are all in the vocabulary (most specific first)."""
    vocab = set(tokens)
    if {"<|fim_prefix|>", "<|file_separator|>"} <= vocab:
        return CODEGEMMA
    for fam in (QWEN, DEEPSEEK, STARCODER, CODESTRAL, CODELLAMA):
        needed = fam.markers[:3] if fam is not CODESTRAL else fam.markers
        if all(m.strip() in vocab for m in needed):
            return fam
    return None


def family_from_template(template: str | None) -> Family | None:
    """Ollama's /api/show template names the FIM tokens in its suffix branch."""
    if not template:
        return None
    if "<|fim_prefix|>" in template and "<|file_separator|>" in template:
        return CODEGEMMA
    for fam in (QWEN, DEEPSEEK, STARCODER, CODESTRAL, CODELLAMA):
        if fam.markers and fam.markers[0].strip() in template:
            return fam
    return None


def detect_family(
    model: str | None = None,
    *,
    override: str | None = None,
    template: str | None = None,
    details: Mapping[str, object] | None = None,
    vocabulary: Iterable[str] | None = None,
) -> Family:
    """Best evidence first: the user's override, the model's own tokens, then its name."""
    if override:
        return family_by_name(override)
    if vocabulary is not None:
        fam = family_from_vocabulary(vocabulary)
        if fam:
            return fam
    fam = family_from_template(template)
    if fam:
        return fam
    fam = family_from_model_name(model)
    if fam:
        return fam
    if details:
        # a server's answer: anything may be in it, only a list of names is read
        families = details.get("families")
        if not isinstance(families, (list, tuple)):
            families = []
        names = [str(details.get("family") or "")] + [str(f) for f in families]
        for name in names:
            fam = family_from_model_name(name)
            if fam:
                return fam
        if any(n.lower() in ("qwen2", "qwen3") for n in names):
            return QWEN
        if any(n.lower() == "starcoder2" for n in names):
            return STARCODER
        if any(n.lower() == "gemma" for n in names) and model and "code" in model.lower():
            return CODEGEMMA
    return PLAIN
