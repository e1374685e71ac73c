"""`Twin`: the engine's one public object. cells -> context -> prompt -> stream -> text."""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .background import AfterBackground, BackgroundWork
from .backends import Backend, ChatRequest, FimRequest, make_backend
from .cells import Cell, check_position, error_text, to_cells
from .completion_cache import CompletionCache, notebook_key
from .context import Context, ContextOptions, build_context, estimate_tokens
from .errors import CellTooLarge, ContextError, ModelNotFound, TwinError
from .postprocess import clean_completion, completion_mode, current_line, hold_back, is_finished, partial_word, unheal
from .settings import BACKENDS, Settings
from .stream import TaskStream, TextListStream
from .tasks import TASKS, build_messages, finish, task_by_name

log = logging.getLogger("jupyter_twin")
CellsLike = Sequence[Mapping[str, Any] | Cell]
#: tokens a chat template adds around each message (role markers, separators), roughly
_MESSAGE_OVERHEAD = 8


def _clip_tail(text: str, max_chars: int, count: Any, max_tokens: int) -> str:
    """The end of `text` within `max_chars` and `max_tokens`, cut at a line start."""
    if len(text) > max_chars:
        text = text[-max_chars:]
        nl = text.find("\n")
        text = "...\n" + (text[nl + 1:] if 0 <= nl < len(text) - 1 else text)
    while count(text) > max_tokens and len(text) > 64:
        text = "...\n" + text[len(text) // 5:]
    return text
Facts = Sequence[Mapping[str, Any]] | None


def status_base(settings: Settings | None, error: str | None = None) -> dict[str, Any]:
    """The keys every status has, as they stand before a backend answers: `Twin.status()`
    fills them in, and a front door with no engine to ask (the server while the engine
    is still being made or does not answer, a magic with bad settings) answers this."""
    return {
        "backend": settings.backend if settings is not None else None,
        "model": (settings.model or settings.model_path) if settings is not None else None,
        "host": None,
        "family": None,
        "reachable": False,
        "error": error,
        "last_latency": {},
    }


@dataclass
class Preview:
    """Exactly what would be sent to the backend, and where the context came from."""

    task: str
    backend: str
    model: str
    request: dict[str, Any]
    context: Context
    sources: list[str] = field(default_factory=list)

    @property
    def prompt(self) -> str | None:
        return self.request.get("prompt")

    @property
    def messages(self) -> list[dict[str, str]] | None:
        return self.request.get("messages")

    def describe(self) -> str:
        lines = [f"{self.task} via {self.backend} ({self.model})", "context:"]
        lines += [f"  - {s}" for s in self.sources] or ["  (the cell alone)"]
        lines.append("sent:")
        if self.prompt is not None:
            lines.append(self.prompt)
        if self.messages:
            for m in self.messages:
                lines.append(f"[{m['role']}]\n{m['content']}")
        return "\n".join(lines)


class Twin:
    """A notebook-aware assistant over one backend and model.

    `Twin()` lets settings and environment choose; `Twin(backend="embedded", model=PATH)`,
    `Twin(backend="ollama", model="codestral", host=URL)` and
    `Twin(backend="openai", model=NAME, host=BASE_URL, api_key=KEY)` choose explicitly.
    """

    def __init__(
        self,
        backend: str | Backend | None = None,
        model: str | None = None,
        host: str | None = None,
        *,
        api_key: str | None = None,
        settings: Settings | None = None,
        strategy: str = "notebook",
        **overrides: Any,
    ) -> None:
        if isinstance(backend, Backend):
            # one backend object from elsewhere (a plugin, a test double) serves both roles;
            # it may have a name of its own
            self._given: Backend | None = backend
            backend_name = backend.name if backend.name in BACKENDS else None
        else:
            self._given = None
            backend_name = backend
        #: the backend of each role ("complete", "chat"), made on first use; one object
        #: when both roles name the same backend and model
        self._backends: dict[str, Backend] = {}
        self._fim_warned = False
        if settings is None:
            settings = Settings.from_env(backend=backend_name, model=model, host=host, api_key=api_key, **overrides)
        else:
            changes = {k: v for k, v in dict(backend=backend_name, model=model, host=host, api_key=api_key, **overrides).items() if v is not None}
            settings = settings.replace(**changes) if changes else settings
        self.settings = settings
        #: the settings as made, before any pick: what `use_model(role, None)` goes back to
        self._configured = settings
        self._default_names: dict[str, str] = {}
        self.strategy = strategy
        self._model_arg = model
        self._host_arg = host
        self._lock = threading.Lock()
        self.last_latency: dict[str, float] = {}
        self._counter: Any = None
        self.cache = CompletionCache()
        self._background: BackgroundWork | None = None
        self._background_lock = threading.Lock()

    # --- backend -------------------------------------------------------
    def choice(self, role: str) -> tuple[str, str | None]:
        """(backend, model) configured for a role: `completion_backend` / `completion_model`
        for "complete", `chat_backend` / `chat_model` for "chat", each defaulting to
        `backend` / `model`."""
        return self._choice(self.settings, role)

    def default_choice(self, role: str) -> tuple[str, str | None]:
        """(backend, model) of a role as configured, before any `use_model` pick."""
        return self._choice(self._configured, role)

    def default_model(self, role: str) -> str | None:
        """The name of the model a role is configured with (as its backend names it, once
        made), before any `use_model` pick."""
        if role not in self._default_names:
            if self.choice(role) != self.default_choice(role):
                return self.default_choice(role)[1]
            self.backend_for(role)
        return self._default_names.get(role)

    def _choice(self, s: Settings, role: str) -> tuple[str, str | None]:
        if role == "complete":
            return s.completion_backend or s.backend, s.completion_model or self._model_arg or s.model
        if role == "chat":
            return s.chat_backend or s.backend, s.chat_model or self._model_arg or s.model
        raise ValueError(f"role must be 'complete' or 'chat', not {role!r}")

    def backend_for(self, role: str) -> Backend:
        """The backend serving a role, made on first use."""
        with self._lock:
            if self._given is not None:
                return self._given
            backend = self._backends.get(role)
            if backend is None:
                kind, model = self.choice(role)
                other = "chat" if role == "complete" else "complete"
                if other in self._backends and self.choice(other) == (kind, model):
                    backend = self._backends[other]
                else:
                    settings = self.settings if kind == self.settings.backend else self.settings.replace(backend=kind)
                    backend = make_backend(settings, model=model, host=self._host_arg)
                self._backends[role] = backend
                if (kind, model) == self.default_choice(role):
                    # the configured model's own name (a GGUF file's, when only a path or
                    # nothing was configured): what a picker calls "server default"
                    self._default_names[role] = str(backend.model)
            return backend

    @property
    def backend(self) -> Backend:
        """The completion backend (FIM); `chat_backend` serves the chat tasks."""
        return self.backend_for("complete")

    @property
    def chat_backend(self) -> Backend:
        return self.backend_for("chat")

    def use_model(self, role: str, name: str | None, *, listed_only: bool = True) -> None:
        """Serve `role` with the model `name` from the next request on. Only a model that
        the role's backend lists is accepted (never a host, a path or a key from a
        browser): ModelNotFound otherwise. `listed_only=False` is for the user's own
        kernel (the magics), where any name the backend can load is the user's choice.
        `name=None` goes back to the configured model (a picker's "server default")."""
        if role not in ("complete", "chat"):
            raise ValueError(f"role must be 'complete' or 'chat', not {role!r}")
        field_name = "completion_model" if role == "complete" else "chat_model"
        if name is None:
            value = getattr(self._configured, field_name)
        else:
            if listed_only:
                listed = self.backend_for(role).models()
                if name not in listed:
                    raise ModelNotFound(f"{name!r} is not one of the models the backend offers: {', '.join(listed[:20])}")
            value = name
        with self._lock:
            if getattr(self.settings, field_name) == value:
                return  # nothing changes: keep the backend (and its warm cache)
            self.settings = self.settings.replace(**{field_name: value})
            old = self._backends.pop(role, None)
            if role == "complete":
                self._counter = None
                self._fim_warned = False
        if old is not None and old not in self._backends.values() and old is not self._given:
            old.close()

    @property
    def family(self):  # -> Family
        return self.backend.info().family

    def _check_fim(self) -> None:
        """A model that cannot fill in the middle is never used for completion: a chat
        model's answer to a FIM prompt is prose or a copy of the cell. Said clearly; logged
        once."""
        backend = self.backend
        info = backend.info()
        if info.family.supports_fim or info.supports_insert:
            return
        message = (
            f"the completion model {backend.model!r} cannot fill in the middle (no FIM format is known "
            f"for it and {backend.name} reports no 'insert' capability): set completion_model to a "
            f"code model with FIM, e.g. qwen2.5-coder:1.5b or codestral (or family, if it has FIM)"
        )
        if not self._fim_warned:
            self._fim_warned = True
            log.warning("jupyter_twin: %s", message)
        raise ModelNotFound(message)

    def _count(self) -> Any:
        """The token counter for context budgets, made once per Twin. Exact counts are
        cached by text: the other cells are the same on every keystroke, and tokenizing
        them again each time would be work on the typing path for nothing."""
        if self._counter is None:
            backend = self.backend
            try:
                exact = backend.count_tokens("x") is not None
            except TwinError:
                exact = False
            if exact:
                @functools.lru_cache(maxsize=4096)
                def count(text: str) -> int:
                    return backend.count_tokens(text) or estimate_tokens(text)

                self._counter = count
            else:
                self._counter = estimate_tokens
        return self._counter

    def _options(self, strategy: str | None = None) -> ContextOptions:
        budget = self.settings.context_tokens
        return ContextOptions(
            budget_tokens=budget,
            max_prefix_tokens=max(256, min(1536, self.settings.num_ctx // 3)),
            max_suffix_tokens=max(128, min(512, self.settings.num_ctx // 8)),
            strategy=strategy or self.strategy,
        )

    def _record(self, task: str):
        def done(stream: TaskStream) -> None:
            if stream.latency is not None and not stream.cancelled and not stream.failed:
                self.last_latency[task] = stream.latency
        return done

    # --- completion ------------------------------------------------------
    def _fim_request(self, cells: CellsLike, index: int, cursor: int | None, kernel_facts: Facts, strategy: str | None):
        cell_list, cursor = self._completion_cells(cells, index, cursor)
        self._check_fim()
        ctx = build_context(
            cell_list, index, cursor, kernel_facts=kernel_facts, options=self._options(strategy), count=self._count()
        )
        mode = completion_mode(ctx.prefix, ctx.suffix)
        max_tokens = self.settings.max_tokens_complete if mode == "line" else self.settings.max_tokens_complete * 2
        stop = ["\n# %%", "\n\n\n"]
        empty_line = not current_line(ctx.prefix).strip()
        if mode == "line" and not empty_line:
            # the rest of a line: stop the model at the first line end it writes
            # (on an empty line the model may open with a newline; that is not the end)
            stop.append("\n")
        suffix = ctx.suffix
        if empty_line and suffix.startswith("\n"):
            # the empty line's own newline reads as a line already done, and the model
            # writes nothing (docs/benchmarks.md, "Numbers behind the code")
            suffix = suffix[1:]
        heal = partial_word(ctx.prefix, ctx.suffix)
        request = FimRequest(
            stable=ctx.stable,
            # token healing: a model continues a half-typed word badly, because the word's
            # tokens are cut where no tokenizer would cut them; ask from the word's start
            # and keep only answers that continue the typed part
            prefix=ctx.prefix[: len(ctx.prefix) - len(heal)],
            suffix=suffix,
            family=self.family,
            max_tokens=max_tokens,
            stop=stop,
            temperature=self.settings.temperature,
            heal=heal,
        )
        return ctx, request, heal

    def _cache_key(self, cell_list: list[Cell], index: int, cursor: int, kernel_facts: Facts,
                   strategy: str | None) -> tuple[str, str, str]:
        backend = self.backend
        extra = "|".join(str(v) for v in (
            backend.name, backend.model, strategy or self.strategy, self.settings.context_tokens,
            self.settings.temperature, self.settings.max_tokens_complete,
        ))
        source = cell_list[index].source
        return notebook_key(cell_list, index, kernel_facts, extra), source[:cursor], source[cursor:]

    def _completion_cells(self, cells: CellsLike, index: int, cursor: int | None) -> tuple[list[Cell], int]:
        cell_list = to_cells(cells)
        cursor = check_position(cell_list, index, cursor)
        if cell_list[index].cell_type != "code":
            raise TwinError("completion works in code cells only")
        return cell_list, cursor

    def stream_complete(
        self, cells: CellsLike, index: int, cursor: int | None = None, *, kernel_facts: Facts = None, strategy: str | None = None
    ) -> TaskStream:
        cell_list, cursor = self._completion_cells(cells, index, cursor)
        key = self._cache_key(cell_list, index, cursor, kernel_facts, strategy)
        # a real request never waits behind a warm-up: stop it (what it evaluated stays in
        # the backend's cache); the prefetch of this very place is joined instead
        joined = self._stop_background(unless=key)
        hit = None if joined is not None else self.cache.get(*key)
        if hit is not None:
            text = hit.text
            return TaskStream(
                TextListStream([text] if text else []), lambda raw: text,
                kind="code", task="complete", on_done=self._record("complete"), cached=True,
            )
        return self._stream_complete(cell_list, index, cursor, kernel_facts, strategy, key, joined)

    def _stream_complete(self, cell_list: list[Cell], index: int, cursor: int, kernel_facts: Facts,
                         strategy: str | None, key: tuple[str, str, str], joined: BackgroundWork | None) -> TaskStream:
        ctx, request, heal = self._fim_request(cell_list, index, cursor, kernel_facts, strategy)

        def finish(raw: str) -> str:
            return clean_completion(unheal(raw, heal), ctx.prefix, ctx.suffix)

        def finished(raw: str) -> bool:
            if heal and not raw.startswith(heal):
                return not heal.startswith(raw)  # went elsewhere: nothing to suggest
            return is_finished(unheal(raw, heal), ctx.prefix, ctx.suffix)

        record = self._record("complete")

        def done(stream: TaskStream) -> None:
            record(stream)
            if not stream.cancelled and not stream.failed:
                self.cache.put(*key, finish(stream.text))

        if joined is not None:
            work = joined
            self.cache.count_prefetched()
            backend_stream: Any = AfterBackground(
                work, lambda: work.result if not work.cancelled and work.error is None else None,
                lambda: self.backend.fim(request), deadline=self.settings.request_timeout,
            )
        else:
            backend_stream = self.backend.fim(request)
        return TaskStream(
            backend_stream,
            finish,
            kind="code",
            task="complete",
            on_done=done,
            is_finished=finished,
            hold_back=lambda text, raw: hold_back(text, unheal(raw, heal), ctx.prefix, ctx.suffix),
        )

    # --- work in the background --------------------------------------------
    def _stop_background(self, unless: Any = None) -> BackgroundWork | None:
        """Cancel the warm-up or prefetch running, if any. A prefetch still making the
        completion for key `unless` is left running and returned: the caller joins it (a
        finished one has put its text in the cache already)."""
        with self._background_lock:
            work = self._background
            if work is None:
                return None
            if work.kind == "prefetch" and work.key == unless and not work.cancelled and not work.done.is_set():
                return work
            self._background = None
        work.cancel()
        return None

    def _start_background(self, kind: str, key: Any, run: Any) -> BackgroundWork:
        self._stop_background()
        work = BackgroundWork(kind, key, run)
        with self._background_lock:
            self._background = work
        return work.start()

    def warm(
        self, cells: CellsLike, index: int, cursor: int | None = None, *, kernel_facts: Facts = None,
        strategy: str | None = None,
    ) -> BackgroundWork | None:
        """Evaluate the context of a completion at `cursor` (the cell's end if None) into
        the backend's prompt cache, generating nothing; returns at once. The next real
        request stops it, or builds on what it evaluated. None for a cell that cannot be
        completed (markdown)."""
        cell_list = to_cells(cells)
        cursor = check_position(cell_list, index, cursor)
        if cell_list[index].cell_type != "code":
            return None

        def run(work: BackgroundWork) -> None:
            _ctx, request, _heal = self._fim_request(cell_list, index, cursor, kernel_facts, strategy)
            if work.cancelled:
                return
            stream = work.attach(self.backend.warm(request))
            for _ in stream:
                pass
            work.result = getattr(stream, "info", None)

        return self._start_background("warm", None, run)

    def prefetch(
        self, cells: CellsLike, index: int, cursor: int | None = None, *, kernel_facts: Facts = None,
        strategy: str | None = None,
    ) -> BackgroundWork | None:
        """Make the completion at `cursor` now and keep it in the cache (llama.vim's
        speculative prefetch: the place the user reaches after accepting a suggestion);
        returns at once. None when the cache already has it or the cell is markdown."""
        cell_list = to_cells(cells)
        cursor = check_position(cell_list, index, cursor)
        if cell_list[index].cell_type != "code":
            return None
        key = self._cache_key(cell_list, index, cursor, kernel_facts, strategy)
        if self.cache.get(*key, count=False) is not None:
            return None

        def run(work: BackgroundWork) -> None:
            stream = work.attach(self._stream_complete(cell_list, index, cursor, kernel_facts, strategy, key, None))
            for _ in stream:
                pass
            if not stream.cancelled and not stream.failed:
                work.result = stream.text  # raw: a joined request cleans it itself

        return self._start_background("prefetch", key, run)

    def background_status(self) -> dict[str, Any] | None:
        work = self._background
        if work is None:
            return None
        return {"kind": work.kind, "running": not work.done.is_set(), "cancelled": work.cancelled}


    def complete(
        self, cells: CellsLike, index: int, cursor: int | None = None, *, kernel_facts: Facts = None, strategy: str | None = None
    ) -> str:
        """Exactly the text the inline completer would insert at `cursor`."""
        return self._run(self.stream_complete(cells, index, cursor, kernel_facts=kernel_facts, strategy=strategy))

    def preview_complete(self, cells: CellsLike, index: int, cursor: int | None = None, *, kernel_facts: Facts = None) -> Preview:
        ctx, request, _ = self._fim_request(cells, index, cursor, kernel_facts, None)
        return Preview(
            "complete", self.backend.name, self.backend.model, self.backend.preview_fim(request), ctx,
            [s.describe() for s in ctx.sources],
        )

    # --- chat tasks -----------------------------------------------------
    def _chat_request(self, task_name: str, cells: CellsLike, index: int, kernel_facts: Facts, **kw: Any):
        """The chat request for a task on the WHOLE cell, or CellTooLarge.

        A chat task's answer replaces the cell (refactor, fix, doc) or speaks for all of it
        (explain, ask), so the model must see all of it: a cell that cannot fit the model's
        context is refused, never cut. The other cells fill what room is left."""
        task = task_by_name(task_name)
        cell_list = to_cells(cells)
        check_position(cell_list, index, None)
        cell = cell_list[index]
        count = self._count()
        # the prompt may use the model's window less the room kept for the answer
        budget = max(0, self.settings.num_ctx - self.settings.max_tokens_chat)
        error = kw.get("error")
        if task.name == "fix" and not error:
            error = error_text(cell)
        if error:
            # the error is the model's evidence, not the user's work: its tail (where the
            # exception is) is kept within a quarter of the budget
            error = _clip_tail(error, max(200, budget // 4) * 3, count, max(64, budget // 4))

        def messages_for(stable: str, facts: str) -> list[dict[str, str]]:
            try:
                return build_messages(
                    task,
                    stable=stable,
                    facts=facts,
                    cell_source=cell.source,
                    cell_label=f"cell {index}",
                    instruction=kw.get("instruction"),
                    error=error,
                    question=kw.get("question"),
                    history=kw.get("history"),
                )
            except ValueError as exc:  # a malformed chat history
                raise ContextError(str(exc)) from None

        def size(messages: list[dict[str, str]]) -> int:
            # a chat template adds a few tokens per message (role markers, separators)
            return sum(count(m["content"]) + _MESSAGE_OVERHEAD for m in messages)

        bare = messages_for("", "")
        needed = size(bare)
        if needed > budget:
            cell_tokens = count(cell.source)
            room = budget - (needed - cell_tokens)
            if room <= 0:  # the question, error or chat history alone fill the context
                raise ContextError(
                    f"the request for {task.name} is too long: its question, error and chat history "
                    f"take about {needed - cell_tokens:,} tokens, and the model's context has room for "
                    f"{budget:,} (num_ctx {self.settings.num_ctx:,}, less "
                    f"{self.settings.max_tokens_chat:,} for the answer); nothing was sent"
                )
            raise CellTooLarge(
                f"cell {index} is too long for {task.name}: {len(cell.source):,} characters "
                f"(about {cell_tokens:,} tokens), and the model's context has room for "
                f"{max(0, room):,} tokens for the cell (num_ctx {self.settings.num_ctx:,}, less "
                f"{self.settings.max_tokens_chat:,} for the answer and {needed - cell_tokens:,} for "
                f"the instructions); nothing was sent: split the cell or raise num_ctx",
                chars=len(cell.source), tokens=cell_tokens, limit=max(0, room),
            )
        # what is left goes to the other cells; the chat layout fences each context cell,
        # so a little of it is kept back for that
        room = min(self.settings.context_tokens, int((budget - needed) * 0.85))
        options = ContextOptions(budget_tokens=max(0, room), strategy=self.strategy if room >= 32 else "cell",
                                 far_markdown=False)
        ctx = build_context(cell_list, index, len(cell.source), kernel_facts=kernel_facts, options=options, count=count)
        # the context's own view of the cell is clipped for completion; a chat sends it whole
        ctx = dataclasses.replace(ctx, prefix=cell.source, suffix="")
        stable = ctx.stable.removesuffix("# %%\n").rstrip()
        if ctx.facts:
            stable = stable.replace(ctx.facts, "").rstrip()
        messages = messages_for(stable, ctx.facts)
        if size(messages) > budget:  # the context's layout came out bigger than counted
            messages = bare
            ctx = dataclasses.replace(ctx, stable="", facts="", sources=[])
        request = ChatRequest(messages=messages, max_tokens=self.settings.max_tokens_chat, temperature=self.settings.temperature)
        return task, ctx, request

    def stream(self, task: str, cells: CellsLike, index: int, *, kernel_facts: Facts = None, **kw: Any) -> TaskStream:
        """Stream a chat task (one of TASKS); `result()` gives code or markdown."""
        spec, ctx, request = self._chat_request(task, cells, index, kernel_facts, **kw)
        if spec.name == "ask" and not (kw.get("question") or "").strip():
            raise TwinError("ask needs a question")
        cell_source = ctx.cell_text  # the whole cell (see _chat_request)
        return TaskStream(
            self.chat_backend.chat(request),
            lambda raw: finish(spec, raw, cell_source),
            kind=spec.kind,
            task=spec.name,
            on_done=self._record(spec.name),
        )

    def preview(self, task: str, cells: CellsLike, index: int, *, kernel_facts: Facts = None, **kw: Any) -> Preview:
        if task == "complete":
            return self.preview_complete(cells, index, kw.get("cursor"), kernel_facts=kernel_facts)
        _spec, ctx, request = self._chat_request(task, cells, index, kernel_facts, **kw)
        return Preview(
            task, self.chat_backend.name, self.chat_backend.model,
            {"messages": request.messages, "max_tokens": request.max_tokens}, ctx,
            [s.describe() for s in ctx.sources],
        )

    def _run(self, stream: TaskStream) -> str:
        try:
            return stream.result()
        except BaseException:
            stream.cancel()
            raise

    def explain(self, cells: CellsLike, index: int, *, kernel_facts: Facts = None) -> str:
        return self._run(self.stream("explain", cells, index, kernel_facts=kernel_facts))

    def refactor(self, cells: CellsLike, index: int, instruction: str | None = None, *, kernel_facts: Facts = None) -> str:
        return self._run(self.stream("refactor", cells, index, kernel_facts=kernel_facts, instruction=instruction))

    def fix(self, cells: CellsLike, index: int, error: str | None = None, *, kernel_facts: Facts = None) -> str:
        return self._run(self.stream("fix", cells, index, kernel_facts=kernel_facts, error=error))

    def document(self, cells: CellsLike, index: int, *, kernel_facts: Facts = None) -> str:
        return self._run(self.stream("document", cells, index, kernel_facts=kernel_facts))

    def test(self, cells: CellsLike, index: int, *, kernel_facts: Facts = None) -> str:
        return self._run(self.stream("test", cells, index, kernel_facts=kernel_facts))

    def ask(
        self, cells: CellsLike, index: int, question: str, *, history: list[dict[str, str]] | None = None,
        kernel_facts: Facts = None,
    ) -> str:
        """A free question about the cell; `history` holds the chat's earlier turns, oldest first."""
        return self._run(self.stream("ask", cells, index, kernel_facts=kernel_facts, question=question, history=history))

    # --- facts ------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The one status dictionary (status_base's keys, filled in): /jupyter-twin/status,
        `%twin status` and `jupyter-twin doctor` show it."""
        data = status_base(self.settings)
        data["last_latency"] = dict(self.last_latency)
        # completions answered with no request (at a place seen before, or typed ahead)
        data["completion_cache"] = self.cache.stats()
        try:
            backend = self.backend
            data.update(backend=backend.name, model=backend.model, host=backend.host)
            process_status = getattr(backend, "process_status", None)
            if callable(process_status):  # before ping, which starts a stopped model process
                data["model_process"] = process_status()
            started = time.monotonic()
            backend.ping()
            data["ping_seconds"] = round(time.monotonic() - started, 4)
            data["family"] = backend.info().family.name
            data["model"] = backend.model
            data["reachable"] = True
        except TwinError as exc:
            data["error"] = str(exc)
        # each role's backend and model (the top-level keys are the completion role's)
        data["roles"] = {role: self._role_status(role) for role in ("complete", "chat")}
        return data

    def _role_status(self, role: str) -> dict[str, Any]:
        kind, model = self.choice(role)
        out: dict[str, Any] = {"backend": kind, "model": model, "family": None, "fim": None, "error": None}
        try:
            backend = self.backend_for(role)
            info = backend.info()
            out.update(backend=backend.name, model=backend.model, family=info.family.name,
                       fim=bool(info.family.supports_fim or info.supports_insert))
        except TwinError as exc:
            out["error"] = str(exc)
        return out

    def models(self, role: str = "complete") -> list[str]:
        """The models the role's backend offers (the picker's list)."""
        return self.backend_for(role).models()

    def backend_stats(self) -> dict[str, int] | None:
        """What the model really did (generations started, cancelled, tokens), where the
        backend counts it (the embedded model's process); None otherwise. Never starts or
        loads a model."""
        backend = self._given or self._backends.get("complete")
        stats = getattr(backend, "generation_stats", None) if backend is not None else None
        return stats() if callable(stats) else None

    def close(self) -> None:
        for backend in {id(b): b for b in [self._given, *self._backends.values()] if b is not None}.values():
            backend.close()

    def __enter__(self) -> "Twin":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Twin", "Preview", "TASKS", "TextListStream", "status_base"]
