"""Kernel facts: what the live namespace knows about the names a cell uses.

For each name the code uses that exists in the user namespace: its type, and where cheap
and safe, length or shape, dtype, DataFrame columns with dtypes, a function's signature,
a module's name. The collector never calls ``repr``/``str``/``len`` on objects of unknown
types (those may be huge, slow or have side effects): it reads attributes of known types
only (builtins, numpy arrays, pandas objects, functions, classes, modules), looks names
up in dicts without triggering ``__getattr__``, and stops at a size and a time budget.

Output: a list of dicts in the engine's ``kernel_facts`` format
``{"name", "type", "module"?, "shape"?, "len"?, "dtype"?, "columns"?, "signature"?,
"doc"?, "value"?}``.
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import re
import sys
import time
import types
from typing import Any, Iterable, Mapping

MAX_NAMES = 24
MAX_COLUMNS = 40
MAX_VALUE_CHARS = 60
MAX_SIGNATURE_CHARS = 160
MAX_DOC_CHARS = 100
MAX_TOTAL_CHARS = 4000
TIME_BUDGET = 0.05  # seconds for one collection

# Names IPython and ipykernel put in the namespace that are never worth describing.
_SKIP = {
    "In", "Out", "_", "__", "___", "_i", "_ii", "_iii", "_oh", "_ih", "_dh", "_sh",
    "get_ipython", "exit", "quit", "display", "__builtins__", "__name__", "__doc__",
    "__session__", "__spec__", "__loader__", "__package__", "__builtin__",
}
_DOTTED_RE = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)")
_STRING_RE = re.compile(
    r"""(?:[rRbBuUfF]{0,2})("""
    r'''"""[\s\S]*?(?:"""|$)|\'\'\'[\s\S]*?(?:\'\'\'|$)|"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?'''
    r""")"""
)
_COMMENT_RE = re.compile(r"#[^\n]*")
_SCALARS = (bool, int, float, complex)
_CONTAINERS = (list, tuple, dict, set, frozenset, range, bytearray)


def used_names(code: str) -> list[str]:
    """Dotted names the code uses, in order of first appearance (strings and comments out).

    Works on incomplete code (a cell being typed), so it does not need to parse."""
    code = _STRING_RE.sub(" ", code)
    code = _COMMENT_RE.sub(" ", code)
    seen: dict[str, None] = {}
    for match in _DOTTED_RE.finditer(code):
        dotted = re.sub(r"\s+", "", match.group(1))
        head = dotted.split(".", 1)[0]
        if keyword.iskeyword(head) or keyword.issoftkeyword(head):
            continue
        seen.setdefault(dotted, None)
    return list(seen)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _type_name(obj: Any) -> str:
    cls = type(obj)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    if module in ("builtins", "__main__", ""):
        return name
    return f"{module.split('.')[0]}.{name}" if module.split(".")[0] in ("numpy", "pandas", "torch") else f"{module}.{name}"


def _is_instance_of(obj: Any, module: str, names: Iterable[str]) -> Any:
    """``isinstance`` against a class of an already imported module (never imports it)."""
    mod = sys.modules.get(module)
    if mod is None:
        return None
    for name in names:
        cls = mod.__dict__.get(name)
        if isinstance(cls, type) and isinstance(obj, cls):
            return cls
    return None


def _signature(obj: Any) -> str | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError, RecursionError):
        return None
    except Exception:
        return None
    return _short(str(sig), MAX_SIGNATURE_CHARS)


def _doc(obj: Any) -> str | None:
    own = obj.__dict__ if isinstance(obj, type) else None
    doc = own.get("__doc__") if own is not None else None
    if doc is None and isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        doc = getattr(obj, "__doc__", None)
    if not isinstance(doc, str):
        return None
    for line in doc.strip().splitlines():
        if line.strip():
            return _short(line.strip(), MAX_DOC_CHARS)
    return None


def _dtype_text(dtype: Any) -> str:
    if isinstance(dtype, str):
        return dtype
    name = getattr(type(dtype), "__module__", "")
    if name.startswith(("numpy", "pandas")):
        try:
            return str(dtype)
        except Exception:
            return type(dtype).__name__
    return type(dtype).__name__


def _label(value: Any) -> str:
    if isinstance(value, str):
        return _short(value, MAX_VALUE_CHARS)
    if isinstance(value, _SCALARS):
        return repr(value)
    if isinstance(value, tuple) and len(value) <= 4 and all(isinstance(v, (str,) + _SCALARS) for v in value):
        return repr(value)
    return f"<{type(value).__name__}>"


def describe(name: str, obj: Any) -> dict[str, Any]:
    """One fact about one object, from safe attribute reads only."""
    fact: dict[str, Any] = {"name": name}

    if isinstance(obj, types.ModuleType):
        fact["type"] = "module"
        mod_name = obj.__dict__.get("__name__")
        if isinstance(mod_name, str):
            fact["module"] = mod_name
        return fact

    if obj is None or isinstance(obj, _SCALARS):
        fact["type"] = type(obj).__name__
        text = repr(obj)  # builtin scalars only: cheap and side-effect free
        fact["value"] = _short(text, MAX_VALUE_CHARS)
        return fact

    if type(obj) in (str, bytes):
        fact["type"] = type(obj).__name__
        fact["len"] = len(obj)
        if len(obj) <= MAX_VALUE_CHARS:
            fact["value"] = repr(obj)
        return fact

    if type(obj) in _CONTAINERS:
        fact["type"] = type(obj).__name__
        fact["len"] = len(obj)
        if type(obj) is dict and obj:
            keys = []
            for i, key in enumerate(obj):  # builtin dict iteration: no user code runs
                if i >= 12:
                    keys.append("…")
                    break
                keys.append(_label(key) if isinstance(key, (str,) + _SCALARS + (tuple,)) else f"<{type(key).__name__}>")
            fact["keys"] = keys
        elif type(obj) in (list, tuple) and obj and len(obj) <= 1_000_000:
            kinds = {type(item).__name__ for item in obj[:20]}
            if len(kinds) == 1:
                fact["dtype"] = next(iter(kinds))
        return fact

    # pandas
    if (cls := _is_instance_of(obj, "pandas", ("DataFrame",))) is not None:
        fact["type"] = "pandas.DataFrame"
        try:
            shape = obj.shape
            fact["shape"] = [int(shape[0]), int(shape[1])]
            columns = obj.columns[:MAX_COLUMNS]
            dtypes = obj.dtypes.iloc[:MAX_COLUMNS]
            cols = {}
            for col, dt in zip(columns, dtypes):
                cols[_label(col) if not isinstance(col, str) else col] = _dtype_text(dt)
            if shape[1] > MAX_COLUMNS:
                cols["…"] = f"{shape[1] - MAX_COLUMNS} more"
            fact["columns"] = cols
            index = obj.index
            if type(index).__name__ != "RangeIndex":
                fact["index"] = f"{type(index).__name__}[{_dtype_text(index.dtype)}]"
                if index.name is not None:
                    fact["index"] += f" name={_label(index.name)}"
        except Exception:
            pass
        return fact
    if _is_instance_of(obj, "pandas", ("Series",)) is not None:
        fact["type"] = "pandas.Series"
        try:
            fact["len"] = int(obj.shape[0])
            fact["dtype"] = _dtype_text(obj.dtype)
            if obj.name is not None:
                fact["value"] = f"name={_label(obj.name)}"
            index = obj.index
            if type(index).__name__ != "RangeIndex":
                labels = [_label(v) for v in index[:8]]
                fact["index"] = f"{type(index).__name__}[{_dtype_text(index.dtype)}] " + ", ".join(labels) + (
                    ", …" if len(index) > 8 else ""
                )
        except Exception:
            pass
        return fact
    if _is_instance_of(obj, "pandas", ("Index",)) is not None:
        fact["type"] = f"pandas.{type(obj).__name__}"
        try:
            fact["len"] = int(obj.shape[0])
            fact["dtype"] = _dtype_text(obj.dtype)
        except Exception:
            pass
        return fact

    # numpy
    if _is_instance_of(obj, "numpy", ("ndarray",)) is not None:
        fact["type"] = "numpy.ndarray"
        try:
            fact["shape"] = [int(n) for n in obj.shape]
            fact["dtype"] = _dtype_text(obj.dtype)
            if obj.size <= 6 and obj.dtype.kind in "biuf":
                fact["value"] = _short(str(obj.tolist()), MAX_VALUE_CHARS)
        except Exception:
            pass
        return fact
    if _is_instance_of(obj, "numpy", ("generic",)) is not None:
        fact["type"] = f"numpy.{type(obj).__name__}"
        try:
            fact["value"] = _short(repr(obj.item()), MAX_VALUE_CHARS)
        except Exception:
            pass
        return fact

    # torch tensors, if torch is already imported
    if _is_instance_of(obj, "torch", ("Tensor",)) is not None:
        fact["type"] = "torch.Tensor"
        try:
            fact["shape"] = [int(n) for n in obj.shape]
            fact["dtype"] = str(obj.dtype)
        except Exception:
            pass
        return fact

    # callables and classes
    if isinstance(obj, type):
        fact["type"] = "class"
        module = obj.__dict__.get("__module__")
        if isinstance(module, str) and module not in ("builtins", "__main__"):
            fact["module"] = module
        sig = _signature(obj)
        if sig:
            fact["signature"] = sig
        doc = _doc(obj)
        if doc:
            fact["doc"] = doc
        return fact
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                        types.BuiltinMethodType)) or (
        _is_instance_of(obj, "functools", ("partial",)) is not None
    ):
        fact["type"] = "function"
        module = getattr(obj, "__module__", None)
        if isinstance(module, str) and module not in ("builtins", "__main__"):
            fact["module"] = module
        sig = _signature(obj)
        if sig:
            fact["signature"] = sig
        doc = _doc(obj)
        if doc:
            fact["doc"] = doc
        return fact

    # callables of numpy / pandas / scipy / sklearn (ufuncs, dispatchers): signature if any
    module = getattr(type(obj), "__module__", "") or ""
    if callable(obj) and module.split(".")[0] in ("numpy", "pandas", "scipy", "sklearn"):
        fact["type"] = "function"
        own_module = getattr(obj, "__module__", None)
        if isinstance(own_module, str):
            fact["module"] = own_module
        sig = _signature(obj)
        if sig:
            fact["signature"] = sig
        return fact

    # anything else: its type only (no repr, no len, no attribute reads)
    fact["type"] = _type_name(obj)
    module = getattr(type(obj), "__module__", None)
    if isinstance(module, str) and module not in ("builtins", "__main__"):
        fact["module"] = module
    return fact


def _lookup(namespace: Mapping[str, Any], dotted: str) -> tuple[str, Any] | None:
    """Resolve ``a.b.c``: the head from the namespace, then only through modules'
    ``__dict__`` (so no ``__getattr__`` runs). Returns the longest resolvable prefix."""
    parts = dotted.split(".")
    head = parts[0]
    if head in _SKIP or head.startswith("_i") and head[2:].isdigit() or head.startswith("_") and head[1:].isdigit():
        return None
    try:
        obj = namespace[head]
    except KeyError:
        return None
    except Exception:
        return None
    name = head
    for attr in parts[1:]:
        if not isinstance(obj, types.ModuleType):
            break
        nxt = obj.__dict__.get(attr, _MISSING)
        if nxt is _MISSING:
            break
        obj = nxt
        name = f"{name}.{attr}"
    return name, obj


_MISSING = object()


def _fact_size(fact: dict) -> int:
    size = 0
    for key, value in fact.items():
        size += len(key) + (len(value) if isinstance(value, str) else 8)
        if isinstance(value, dict):
            size += sum(len(str(k)) + len(str(v)) for k, v in value.items())
        elif isinstance(value, list):
            size += sum(len(str(v)) for v in value)
    return size


def collect_facts(
    code: str,
    namespace: Mapping[str, Any],
    *,
    extra_code: Iterable[str] = (),
    max_names: int = MAX_NAMES,
    max_chars: int = MAX_TOTAL_CHARS,
    time_budget: float = TIME_BUDGET,
) -> list[dict[str, Any]]:
    """Facts for the names ``code`` uses (then names from ``extra_code``, e.g. the cells
    around it), in order of appearance, bounded by count, size and time."""
    started = time.perf_counter()
    names = used_names(code)
    for other in extra_code:
        for name in used_names(other):
            if name not in names:
                names.append(name)
    builtin_names = vars(builtins)
    facts: list[dict[str, Any]] = []
    described: set[str] = set()
    total = 0
    for dotted in names:
        if len(facts) >= max_names or time.perf_counter() - started > time_budget:
            break
        found = _lookup(namespace, dotted)
        if found is None:
            continue
        name, obj = found
        if name in described:
            continue
        if "." not in name and name in builtin_names and builtin_names[name] is obj:
            continue
        described.add(name)
        try:
            fact = describe(name, obj)
        except Exception:
            fact = {"name": name, "type": type(obj).__name__}
        size = _fact_size(fact)
        if total + size > max_chars:
            break
        total += size
        facts.append(fact)
    # what the model cannot know comes first (the engine cuts the block at its budget):
    # live data, then the user's own functions and classes, then modules, then library callables
    facts.sort(key=_priority)
    return facts


def _priority(fact: dict[str, Any]) -> int:
    kind = fact.get("type")
    if kind == "module":
        return 2
    if kind in ("function", "class"):
        module = fact.get("module")
        return 1 if not module or module == "__main__" or module.split(".")[0] not in _LIBRARIES else 3
    return 0


_LIBRARIES = {
    "numpy", "pandas", "scipy", "sklearn", "matplotlib", "torch", "tensorflow", "keras", "os",
    "posixpath", "ntpath", "sys", "json", "re", "math", "collections", "itertools", "functools",
    "pathlib", "typing", "random", "statistics", "datetime", "time", "seaborn", "polars",
}


def render_facts(facts: list[dict[str, Any]]) -> str:
    """A compact human-readable rendering (used by ``%twin context``; the engine renders
    the block it sends itself)."""
    lines = []
    for f in facts:
        parts = [f"{f['name']}: {f.get('type', '?')}"]
        for key in ("module", "shape", "len", "dtype", "index", "value", "signature", "doc"):
            if key in f and not (key == "module" and f.get("type") == "module" and False):
                parts.append(f"{key}={f[key]}")
        if "columns" in f:
            parts.append("columns={" + ", ".join(f"{k}: {v}" for k, v in f["columns"].items()) + "}")
        if "keys" in f:
            parts.append("keys=[" + ", ".join(map(str, f["keys"])) + "]")
        lines.append(" ".join(parts))
    return "\n".join(lines)


class _JSONText(str):
    """A str whose repr is itself, so a user expression's text/plain is plain JSON."""

    def __repr__(self) -> str:
        return str.__str__(self)


def facts_json(code: str, namespace: Mapping[str, Any] | None = None, **limits: Any) -> str:
    """Facts for ``code`` as JSON text (for front ends, through ``user_expressions``)."""
    import json

    if namespace is None:
        from IPython import get_ipython

        shell = get_ipython()
        namespace = shell.user_ns if shell is not None else {}
    return _JSONText(json.dumps(collect_facts(code, namespace, **limits), default=str))
