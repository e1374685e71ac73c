"""Kernel facts: what the live namespace knows about the names a cell uses.

For each name the code uses that exists in the user namespace: its type, and for types
the collector knows, length or shape, dtype, DataFrame columns with dtypes, a function's
signature, a module's name. The collector runs in the user's kernel on every completion,
on whatever the user (or a downloaded notebook) put there, so it runs NO user code:

- types are compared exactly (``type(obj) is int``), never with ``isinstance`` (which
  asks ``obj.__class__``, a property anyone can define);
- a class's name, module, MRO and namespace are read through ``type``'s own descriptors
  (so a metaclass property cannot answer), a module's namespace through ``ModuleType``'s
  member, a function's code, defaults and doc through ``FunctionType``'s;
- attributes are read only on exact builtins, modules, plain functions and classes, and
  the classes numpy, pandas and torch define (library code, not user code); nothing is
  read from an object of any other type (no ``repr``, ``str``, ``len``, ``getattr``);
- classes whose metaclass is not ``type`` or ``abc.ABCMeta`` get a name and a module
  only (a metaclass can define ``__call__``, ``__signature__``, ``__getattr__``);
- signatures are rendered here, not by ``str(inspect.Signature)`` (which calls ``repr`` on
  every default value): defaults show only for builtin scalars, short strings and empty
  containers, others as ``<TypeName>``;
- no string value is ever sent (a ``token = "sk-..."`` cell would put the token into
  every prompt), and names that look like secrets (token, key, secret, password, api,
  auth, credential, ...) get no value, keys or labels at all;
- the time budget is checked inside the work (before each read of a known type and in
  every loop), not only between names.

Output: a list of dicts in the engine's ``kernel_facts`` format
``{"name", "type", "module"?, "shape"?, "len"?, "dtype"?, "columns"?, "signature"?,
"doc"?, "value"?, "keys"?, "index"?}``. docs/security.md lists what is read.
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import re
import sys
import time
import types
from typing import Any, Iterable, Mapping, Sequence

MAX_NAMES = 24
MAX_COLUMNS = 40
MAX_VALUE_CHARS = 60
MAX_SIGNATURE_CHARS = 160
MAX_DOC_CHARS = 100
MAX_TOTAL_CHARS = 4000
MAX_CODE_CHARS = 20_000  # of a cell, for the names it uses (every pattern is linear)
MAX_GIVEN_NAMES = 64  # names a front end may ask for in one call
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
# a dotted name a front end may ask for
_NAME_RE = re.compile(r"[A-Za-z_]\w{0,79}(?:\.[A-Za-z_]\w{0,79}){0,7}")

# Descriptors of the builtin types themselves: ``_TYPE_NAME.__get__(cls)`` is the C-level
# name whatever the class's metaclass defines, ``_MODULE_DICT.__get__(mod)`` a module's
# namespace whatever its subclass defines.
_TYPE_NAME = type.__dict__["__name__"]
_TYPE_QUALNAME = type.__dict__["__qualname__"]
_TYPE_MODULE = type.__dict__["__module__"]
_TYPE_MRO = type.__dict__["__mro__"]
_TYPE_DICT = type.__dict__["__dict__"]
_MODULE_DICT = types.ModuleType.__dict__["__dict__"]
_FUNC = types.FunctionType.__dict__
_FUNC_CODE = _FUNC["__code__"]
_FUNC_DEFAULTS = _FUNC["__defaults__"]
_FUNC_KWDEFAULTS = _FUNC["__kwdefaults__"]
_FUNC_ANNOTATIONS = _FUNC["__annotations__"]
_FUNC_DICT = _FUNC["__dict__"]
_FUNC_DOC = _FUNC["__doc__"]
_FUNC_MODULE = _FUNC["__module__"]
_FUNC_NAME = _FUNC["__name__"]
_METHOD_FUNC = types.MethodType.__dict__["__func__"]
_BUILTIN_SELF = types.BuiltinFunctionType.__dict__["__self__"]
_BUILTIN_MODULE = types.BuiltinFunctionType.__dict__["__module__"]
_BUILTIN_DOC = types.BuiltinFunctionType.__dict__["__doc__"]
_STATIC_FUNC = staticmethod.__dict__["__func__"]
# from 3.14 on, reading __annotations__ may run a function's __annotate__ (user code)
_READ_ANNOTATIONS = sys.version_info < (3, 14)

_SCALARS = (bool, int, float, complex)
_CONTAINERS = (list, tuple, dict, set, frozenset, range, bytearray)
# metaclasses whose classes are described in full (abc is always imported)
import abc as _abc  # noqa: E402

_PLAIN_METACLASSES = (type, _abc.ABCMeta)

# Names that look like secrets: their values, keys and labels are never sent. Stems
# match anywhere in the lower-cased name; words are the parts of the name split at
# "_", digits and camelCase.
_SECRET_STEMS = ("token", "secret", "passw", "passphrase", "credential", "apikey", "auth",
                 "cookie", "bearer", "session", "signature", "privatekey", "accesskey")
_SECRET_WORDS = {"key", "keys", "api", "pwd", "pw", "pass", "pin", "otp", "salt", "dsn", "cred",
                 "creds", "sig", "jwt", "hmac", "cert", "private", "sk", "oauth"}
_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_MISSING = object()


def looks_secret(name: str) -> bool:
    """Whether a name (a variable's or a parameter's) looks like it holds a secret."""
    lowered = name.lower()
    if any(stem in lowered for stem in _SECRET_STEMS):
        return True
    return any(word.lower() in _SECRET_WORDS for word in _WORD_RE.findall(name))


def used_names(code: str) -> list[str]:
    """Dotted names the code uses, in order of first appearance (strings and comments out).

    Works on incomplete code (a cell being typed), so it does not need to parse. Reads
    at most ``MAX_CODE_CHARS`` of the code."""
    code = _STRING_RE.sub(" ", code[:MAX_CODE_CHARS])
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
    text = " ".join(str.split(text))  # str.split: a str subclass's own split never runs
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is(cls: Any, *candidates: Any) -> bool:
    """``cls`` is one of ``candidates``, by identity (``in`` and hashing could run a
    metaclass's ``__eq__`` or ``__hash__``)."""
    return any(cls is c for c in candidates)


def _mro(cls: type) -> tuple:
    mro = _TYPE_MRO.__get__(cls)
    return mro if type(mro) is tuple else (cls,)


def _inherits(cls: type, base: Any) -> bool:
    return base is not None and any(c is base for c in _mro(cls))


def _cls_name(cls: type) -> str:
    name = _TYPE_QUALNAME.__get__(cls)
    return name if type(name) is str else _TYPE_NAME.__get__(cls)


def _cls_module(cls: type) -> str:
    module = _TYPE_MODULE.__get__(cls)
    return module if type(module) is str else ""


def _cls_own(cls: type, attr: str) -> Any:
    """``attr`` from the class's own namespace (no descriptor runs), or ``_MISSING``."""
    try:
        return _TYPE_DICT.__get__(cls).get(attr, _MISSING)
    except Exception:
        return _MISSING


def _module_attr(module: str, name: str) -> Any:
    """A class from an already imported module's namespace (never imports it)."""
    mod = sys.modules.get(module)
    if mod is None or not _inherits(type(mod), types.ModuleType):
        return None
    value = _MODULE_DICT.__get__(mod).get(name)
    # any class (torch.Tensor's metaclass is torch's own): only compared by identity
    return value if _inherits(type(value), type) else None


def _from_library(cls: type, *roots: str) -> bool:
    return _cls_module(cls).split(".", 1)[0] in roots


def _type_name(cls: type) -> str:
    module = _cls_module(cls)
    name = _cls_name(cls)
    if module in ("builtins", "__main__", ""):
        return name
    root = module.split(".")[0]
    return f"{root}.{name}" if root in ("numpy", "pandas", "torch") else f"{module}.{name}"


class _Deadline:
    """The collection's time budget, checked inside the work."""

    __slots__ = ("end",)

    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds

    def over(self) -> bool:
        return time.perf_counter() > self.end


_NO_DEADLINE = _Deadline(1e9)


# ---------------------------------------------------------------------- safe rendering


def _scalar_text(value: Any) -> str | None:
    """``repr`` of None or an exact builtin scalar (bounded), else None."""
    cls = type(value)
    if value is None or _is(cls, bool, float, complex):
        return repr(value)
    if cls is int:
        # repr of a huge int is slow (and refused past 4,300 digits)
        return repr(value) if value.bit_length() <= 256 else f"<int of {value.bit_length()} bits>"
    return None


def _label(value: Any, depth: int = 0) -> str:
    """A label (dict key, column, index entry): an exact str, scalar or tuple of them."""
    cls = type(value)
    if cls is str:
        return _short(value, MAX_VALUE_CHARS)
    text = _scalar_text(value)
    if text is not None:
        return text
    if cls is tuple and depth == 0 and len(value) <= 4:
        parts = [repr(_label(v, 1)) if type(v) is str else _label(v, 1) for v in value]
        if not any(p.startswith("<") for p in parts):
            return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    return f"<{_cls_name(cls)}>"


_EMPTY_CONTAINERS = {tuple: "()", list: "[]", dict: "{}", set: "set()", frozenset: "frozenset()"}


def _default_text(value: Any, param: str) -> str:
    """A parameter's default as a signature shows it, without running user code."""
    if looks_secret(param):
        return "…"
    cls = type(value)
    text = _scalar_text(value)
    if text is not None:
        return text
    if cls is str:  # code the user wrote (a default), not data: short ones are shown
        return repr(value) if len(value) <= 40 else repr(value[:37]) + "…"
    for kind, empty in _EMPTY_CONTAINERS.items():
        if cls is kind:
            return empty if len(value) == 0 else f"<{_cls_name(cls)}>"
    if _inherits(cls, type):
        return _cls_name(value) if _is(cls, *_PLAIN_METACLASSES) else "<class>"
    if cls is types.FunctionType:
        name = _FUNC_NAME.__get__(value)
        return name if type(name) is str else "<function>"
    return f"<{_cls_name(cls)}>"


def _annotation_text(value: Any, depth: int = 0) -> str:
    """An annotation as text: classes, strings, generics of them; anything else '…'."""
    cls = type(value)
    if cls is str:
        return _short(value, 60)
    if value is None:
        return "None"
    if value is Ellipsis:
        return "..."
    if depth > 3:
        return "…"
    if _inherits(cls, type):
        if not _is(cls, *_PLAIN_METACLASSES):
            return "…"
        module = _cls_module(value)
        name = _cls_name(value)
        return name if module in ("builtins", "") else f"{module}.{name}"
    if cls is types.GenericAlias or cls is types.UnionType or _cls_module(cls) == "typing":
        origin = inspect.getattr_static(value, "__origin__", None)
        args = inspect.getattr_static(value, "__args__", ())
        if type(args) is not tuple:
            return "…"
        rendered = [_annotation_text(a, depth + 1) for a in args[:8]]
        if cls is types.UnionType:
            return " | ".join(rendered)
        if cls is types.GenericAlias:
            return f"{_annotation_text(origin, depth + 1)}[{', '.join(rendered)}]"
        # typing's own constructs: their repr, once every leaf is known to be harmless
        if all("…" not in r for r in rendered):
            try:
                return repr(value).replace("typing.", "")
            except Exception:
                return "…"
    return "…"


_EMPTY = inspect.Parameter.empty
_POS_ONLY = inspect.Parameter.POSITIONAL_ONLY
_POS_OR_KW = inspect.Parameter.POSITIONAL_OR_KEYWORD
_VAR_POS = inspect.Parameter.VAR_POSITIONAL
_KW_ONLY = inspect.Parameter.KEYWORD_ONLY
_VAR_KW = inspect.Parameter.VAR_KEYWORD
Param = tuple  # (name, kind, default, annotation), _EMPTY where there is none


def _render_signature(params: Sequence[Param], returns: Any = _EMPTY) -> str:
    """The text ``str(inspect.Signature)`` gives, without ``repr`` of user objects."""
    out: list[str] = []
    in_pos_only = False
    star_needed = True
    for name, kind, default, annotation in params:
        if kind == _POS_ONLY:
            in_pos_only = True
        elif in_pos_only:
            out.append("/")
            in_pos_only = False
        if kind == _VAR_POS:
            star_needed = False
        elif kind == _KW_ONLY and star_needed:
            out.append("*")
            star_needed = False
        name = name if type(name) is str else "?"
        text = ("*" if kind == _VAR_POS else "**" if kind == _VAR_KW else "") + name
        if annotation is not _EMPTY:
            text += f": {_annotation_text(annotation)}"
        if default is not _EMPTY:
            text += (" = " if annotation is not _EMPTY else "=") + _default_text(default, name)
        out.append(text)
    if in_pos_only:
        out.append("/")
    text = "(" + ", ".join(out) + ")"
    if returns is not _EMPTY:
        text += f" -> {_annotation_text(returns)}"
    return _short(text, MAX_SIGNATURE_CHARS)


def _unwrapped(func: types.FunctionType) -> types.FunctionType | None:
    """Follow ``__wrapped__`` (functools.wraps) through plain functions, as inspect does;
    None when a function carries its own ``__signature__`` (not read)."""
    for _ in range(8):
        own = _FUNC_DICT.__get__(func)
        if type(own) is not dict:
            return func
        if "__signature__" in own:
            return None
        inner = own.get("__wrapped__", _MISSING)
        if inner is _MISSING:
            return func
        if type(inner) is not types.FunctionType:
            return None
        func = inner
    return None


_KIND_ORDER = {_POS_ONLY: 0, _POS_OR_KW: 1, _VAR_POS: 2, _KW_ONLY: 3, _VAR_KW: 4}


def _function_params(func: types.FunctionType) -> tuple[list[Param], Any] | None:
    """Parameters from a plain function's code object, defaults and annotations."""
    code = _FUNC_CODE.__get__(func)
    defaults = _FUNC_DEFAULTS.__get__(func) or ()
    kwdefaults = _FUNC_KWDEFAULTS.__get__(func) or {}
    annotations = _FUNC_ANNOTATIONS.__get__(func) if _READ_ANNOTATIONS else {}
    if type(defaults) is not tuple or type(kwdefaults) is not dict or type(annotations) is not dict:
        return None
    names = code.co_varnames
    argc, posonly, kwonly = code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount

    def annotation(name: str) -> Any:
        return dict.get(annotations, name, _EMPTY)

    params: list[Param] = []
    first_default = argc - len(defaults)
    for i in range(argc):
        default = defaults[i - first_default] if i >= first_default else _EMPTY
        params.append((names[i], _POS_ONLY if i < posonly else _POS_OR_KW, default, annotation(names[i])))
    for i in range(argc, argc + kwonly):  # co_varnames: positional, keyword-only, *args, **kw
        params.append((names[i], _KW_ONLY, dict.get(kwdefaults, names[i], _EMPTY), annotation(names[i])))
    index = argc + kwonly
    if code.co_flags & inspect.CO_VARARGS:
        params.append((names[index], _VAR_POS, _EMPTY, annotation(names[index])))
        index += 1
    if code.co_flags & inspect.CO_VARKEYWORDS:
        params.append((names[index], _VAR_KW, _EMPTY, annotation(names[index])))
    params.sort(key=lambda p: _KIND_ORDER[p[1]])  # stable: *args before keyword-only
    return params, dict.get(annotations, "return", _EMPTY)


def _function_signature(func: Any, *, bound: bool = False) -> str | None:
    if type(func) is not types.FunctionType:
        return None
    func = _unwrapped(func)
    if func is None:
        return None
    found = _function_params(func)
    if found is None:
        return None
    params, returns = found
    if bound and params and params[0][1] in (_POS_ONLY, _POS_OR_KW):
        params = params[1:]
    return _render_signature(params, returns)


def _library_signature(obj: Any) -> str | None:
    """inspect.signature of a builtin or a numpy/pandas callable (library code), rendered
    here so that no default's repr runs."""
    try:
        sig = inspect.signature(obj)
        params = [(p.name, p.kind, p.default, p.annotation) for p in sig.parameters.values()]
        return _render_signature(params, sig.return_annotation)
    except Exception:
        return None


def _class_signature(cls: type) -> str | None:
    """The signature of calling a plain class: the pure-Python ``__new__`` or
    ``__init__`` the MRO meets first (as inspect chooses), read from the classes' own
    namespaces. None if a class in the MRO sets ``__signature__``."""
    first: dict[str, Any] = {}
    for klass in _mro(cls):
        for attr in ("__signature__", "__new__", "__init__"):
            value = _cls_own(klass, attr)
            if value is not _MISSING and attr not in first:
                first[attr] = value
    if "__signature__" in first:
        return None
    new = first.get("__new__")
    if type(new) is staticmethod:
        new = _STATIC_FUNC.__get__(new)
    init = first.get("__init__")
    new_ok = type(new) is types.FunctionType
    init_ok = type(init) is types.FunctionType
    for klass in _mro(cls):
        if new_ok and _cls_own(klass, "__new__") is not _MISSING:
            return _function_signature(new, bound=True)
        if init_ok and _cls_own(klass, "__init__") is not _MISSING:
            return _function_signature(init, bound=True)
    return None


def _first_line(doc: Any) -> str | None:
    if type(doc) is not str:
        return None
    for line in doc.strip().splitlines():
        if line.strip():
            return _short(line.strip(), MAX_DOC_CHARS)
    return None


def _dtype_text(dtype: Any) -> str:
    cls = type(dtype)
    if cls is str:
        return dtype
    if _from_library(cls, "numpy", "pandas"):
        try:
            return _short(str(dtype), MAX_VALUE_CHARS)
        except Exception:
            return _cls_name(cls)
    return _cls_name(cls)


def _index_is_shown(index: Any) -> bool:
    cls = type(index)
    return _cls_name(cls) != "RangeIndex" and _from_library(cls, "pandas")


# ---------------------------------------------------------------------- one object


def describe(name: str, obj: Any, deadline: _Deadline | None = None) -> dict[str, Any]:
    """One fact about one object, from reads that run no user code (module docstring)."""
    deadline = deadline or _NO_DEADLINE
    secret = looks_secret(name)
    fact: dict[str, Any] = {"name": name}
    cls = type(obj)

    if _inherits(cls, types.ModuleType):
        fact["type"] = "module"
        mod_name = _MODULE_DICT.__get__(obj).get("__name__")
        if type(mod_name) is str:
            fact["module"] = mod_name
        return fact

    if obj is None or _is(cls, *_SCALARS):
        fact["type"] = _cls_name(cls)
        if not secret:
            fact["value"] = _short(_scalar_text(obj) or "", MAX_VALUE_CHARS)
        return fact

    if _is(cls, str, bytes):
        # a length, never the text: strings hold tokens, passwords, paths, personal data
        fact["type"] = _cls_name(cls)
        fact["len"] = len(obj)
        return fact

    if _is(cls, *_CONTAINERS):
        fact["type"] = _cls_name(cls)
        try:
            fact["len"] = len(obj)
        except OverflowError:  # a range longer than sys.maxsize
            pass
        if cls is dict and obj and not secret:
            keys = []
            for i, key in enumerate(obj):  # exact dict iteration: no user code runs
                if i >= 12 or deadline.over():
                    keys.append("…")
                    break
                keys.append(_label(key))
            fact["keys"] = keys
        elif _is(cls, list, tuple) and obj:
            kinds = {_cls_name(type(item)) for item in obj[:20]}
            if len(kinds) == 1:
                fact["dtype"] = next(iter(kinds))
        return fact

    if deadline.over():
        fact["type"] = _type_name(cls)
        return fact

    # pandas: the exact DataFrame and Series, pandas' own Index classes
    if cls is _module_attr("pandas", "DataFrame"):
        fact["type"] = "pandas.DataFrame"
        try:
            shape = obj.shape
            fact["shape"] = [int(shape[0]), int(shape[1])]
            columns = obj.columns[:MAX_COLUMNS]
            if deadline.over():
                return fact
            dtypes = obj.dtypes.iloc[:MAX_COLUMNS]
            cols = {}
            for col, dt in zip(columns, dtypes):
                if deadline.over():
                    break
                cols[col if type(col) is str else _label(col)] = _dtype_text(dt)
            if shape[1] > MAX_COLUMNS:
                cols["…"] = f"{shape[1] - MAX_COLUMNS} more"
            fact["columns"] = cols
            index = obj.index
            if _index_is_shown(index):
                fact["index"] = f"{_cls_name(type(index))}[{_dtype_text(index.dtype)}]"
                if index.name is not None and not secret:
                    fact["index"] += f" name={_label(index.name)}"
        except Exception:
            pass
        return fact
    if cls is _module_attr("pandas", "Series"):
        fact["type"] = "pandas.Series"
        try:
            fact["len"] = int(obj.shape[0])
            fact["dtype"] = _dtype_text(obj.dtype)
            if obj.name is not None and not secret:
                fact["value"] = f"name={_label(obj.name)}"
            index = obj.index
            if _index_is_shown(index) and not secret:
                labels = []
                for v in index[:8]:
                    if deadline.over():
                        break
                    labels.append(_label(v))
                fact["index"] = f"{_cls_name(type(index))}[{_dtype_text(index.dtype)}] " + ", ".join(labels) + (
                    ", …" if len(index) > 8 else ""
                )
        except Exception:
            pass
        return fact
    if _inherits(cls, _module_attr("pandas", "Index")) and _from_library(cls, "pandas"):
        fact["type"] = f"pandas.{_cls_name(cls)}"
        try:
            fact["len"] = int(obj.shape[0])
            fact["dtype"] = _dtype_text(obj.dtype)
        except Exception:
            pass
        return fact

    # numpy: ndarray and numpy's own subclasses, numpy scalars
    if _inherits(cls, _module_attr("numpy", "ndarray")) and _from_library(cls, "numpy"):
        fact["type"] = "numpy.ndarray"
        try:
            fact["shape"] = [int(n) for n in obj.shape]
            fact["dtype"] = _dtype_text(obj.dtype)
            if obj.size <= 6 and obj.dtype.kind in "biuf" and not secret:
                fact["value"] = _short(str(obj.tolist()), MAX_VALUE_CHARS)
        except Exception:
            pass
        return fact
    if _inherits(cls, _module_attr("numpy", "generic")) and _from_library(cls, "numpy"):
        fact["type"] = f"numpy.{_cls_name(cls)}"
        try:
            if obj.dtype.kind in "biufc" and not secret:  # numbers only: no str_ or bytes_
                fact["value"] = _short(_scalar_text(obj.item()) or "", MAX_VALUE_CHARS)
        except Exception:
            pass
        return fact

    # torch tensors, if torch is already imported
    if _inherits(cls, _module_attr("torch", "Tensor")) and _from_library(cls, "torch"):
        fact["type"] = "torch.Tensor"
        try:
            fact["shape"] = [int(n) for n in obj.shape]
            fact["dtype"] = str(obj.dtype)
        except Exception:
            pass
        return fact

    # classes: in full with a plain metaclass only (a custom one may define __call__,
    # __signature__, properties)
    if _inherits(cls, type):
        fact["type"] = "class"
        module = _cls_module(obj)
        if module not in ("builtins", "__main__", ""):
            fact["module"] = module
        if _is(cls, *_PLAIN_METACLASSES):
            sig = _class_signature(obj)
            if sig:
                fact["signature"] = sig
            doc = _first_line(_cls_own(obj, "__doc__"))
            if doc:
                fact["doc"] = doc
        return fact

    # functions: plain ones, methods bound to plain functions, builtins of modules
    func = _METHOD_FUNC.__get__(obj) if cls is types.MethodType else obj
    if type(func) is types.FunctionType:
        fact["type"] = "function"
        module = _FUNC_MODULE.__get__(func)
        if type(module) is str and module not in ("builtins", "__main__"):
            fact["module"] = module
        sig = _function_signature(func, bound=cls is types.MethodType)
        if sig:
            fact["signature"] = sig
        doc = _first_line(_FUNC_DOC.__get__(func))
        if doc:
            fact["doc"] = doc
        return fact
    if cls is types.BuiltinFunctionType:
        fact["type"] = "function"
        module = _BUILTIN_MODULE.__get__(obj)
        if type(module) is str and module not in ("builtins", "__main__"):
            fact["module"] = module
        owner = _BUILTIN_SELF.__get__(obj)
        if owner is None or type(owner) is types.ModuleType:  # not a method of a user object
            sig = _library_signature(obj)
            if sig:
                fact["signature"] = sig
            doc = _first_line(_BUILTIN_DOC.__get__(obj))
            if doc:
                fact["doc"] = doc
        return fact
    partial = _module_attr("functools", "partial")
    if partial is not None and cls is partial:
        fact["type"] = "function"
        inner = _TYPE_DICT.__get__(partial)["func"].__get__(obj)
        if type(inner) is types.FunctionType:
            module = _FUNC_MODULE.__get__(inner)
            if type(module) is str and module not in ("builtins", "__main__"):
                fact["module"] = module
        return fact

    # callables of numpy / pandas / scipy / sklearn (ufuncs, dispatchers): library code
    if _from_library(cls, "numpy", "pandas", "scipy", "sklearn") and callable(obj):
        fact["type"] = "function"
        module = inspect.getattr_static(obj, "__module__", None)
        if type(module) is str:
            fact["module"] = module
        sig = _library_signature(obj)
        if sig:
            fact["signature"] = sig
        return fact

    # anything else: its type only (no repr, no len, no attribute reads)
    fact["type"] = _type_name(cls)
    module = _cls_module(cls)
    if module not in ("builtins", "__main__", ""):
        fact["module"] = module
    return fact


def _lookup(namespace: Mapping[str, Any], dotted: str) -> tuple[str, Any] | None:
    """Resolve ``a.b.c``: the head from the namespace, then only through modules'
    namespaces (so no ``__getattr__`` runs). Returns the longest resolvable prefix."""
    parts = dotted.split(".")
    head = parts[0]
    if head in _SKIP or head.startswith("_i") and head[2:].isdigit() or head.startswith("_") and head[1:].isdigit():
        return None
    try:
        obj = dict.get(namespace, head, _MISSING) if type(namespace) is dict else namespace[head]
    except Exception:
        return None
    if obj is _MISSING:
        return None
    name = head
    for attr in parts[1:]:
        if not _inherits(type(obj), types.ModuleType):
            break
        nxt = _MODULE_DICT.__get__(obj).get(attr, _MISSING)
        if nxt is _MISSING:
            break
        obj = nxt
        name = f"{name}.{attr}"
    return name, obj


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
    code: str = "",
    namespace: Mapping[str, Any] | None = None,
    *,
    names: Iterable[str] | None = None,
    extra_code: Iterable[str] = (),
    max_names: int = MAX_NAMES,
    max_chars: int = MAX_TOTAL_CHARS,
    time_budget: float = TIME_BUDGET,
) -> list[dict[str, Any]]:
    """Facts for the names ``code`` uses, and the dotted ``names`` given (a front end
    that parsed the cell), then names from ``extra_code``, in order of appearance,
    bounded by count, size and time (the budget is checked inside each description)."""
    deadline = _Deadline(time_budget)
    namespace = {} if namespace is None else namespace
    wanted = used_names(code) if code else []
    if names is not None:
        for given in list(names)[:MAX_GIVEN_NAMES]:
            if type(given) is str and _NAME_RE.fullmatch(given) and given not in wanted:
                wanted.append(given)
    for other in extra_code:
        for name in used_names(other):
            if name not in wanted:
                wanted.append(name)
    builtin_names = vars(builtins)
    facts: list[dict[str, Any]] = []
    described: set[str] = set()
    total = 0
    for dotted in wanted:
        if len(facts) >= max_names or deadline.over():
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
            fact = describe(name, obj, deadline)
        except Exception:
            fact = {"name": name, "type": _type_name(type(obj))}
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


def facts_json(
    code: str = "",
    namespace: Mapping[str, Any] | None = None,
    *,
    names: Iterable[str] | None = None,
    **limits: Any,
) -> str:
    """Facts for ``code`` (and the dotted ``names``) as JSON text, for front ends through
    ``user_expressions``: the JupyterLab extension evaluates
    ``__import__('jupyter_twin.kernel.facts', fromlist=['facts_json']).facts_json(names=[...])``
    with the names its cell uses. The repr of the result is the JSON itself."""
    import json

    if namespace is None:
        from IPython import get_ipython

        shell = get_ipython()
        namespace = shell.user_ns if shell is not None else {}
    facts = collect_facts(code, namespace, names=names, **limits)
    # ASCII escapes: a label with a lone surrogate must not break the kernel's reply; the
    # default is never reached (facts hold only str, int, lists and dicts of them)
    return _JSONText(json.dumps(facts, default=lambda o: f"<{_cls_name(type(o))}>"))
