"""The worker: one GGUF model behind a small loopback HTTP API, one model context per role.

Why our own worker and not `python -m llama_cpp.server` (docs/model-process.md has the
details): that server has one lock for all requests, so a completion waits behind a
768-token chat answer, or (`interrupt_requests`, its default) cuts the answer off; its
/extras/tokenize takes the same lock, so counting tokens for the next prompt waits behind
or cuts a generation; it has no generation counters and no idle or last-user exit. Here
each role ("complete", "chat") has its own llama.cpp context over the same mmapped weights
(one copy in memory), so the roles never queue behind each other.

Protocol (every request carries `Authorization: Bearer <token>` from the runtime file):
  GET  /health              {"ok": true, "pid": ...}
  GET  /info                model metadata, special tokens, llama.cpp system info
  GET  /stats               generation counters per role
  POST /hello  {"pid"}      a front door registers; the worker exits when all are gone
  POST /tokenize {"text"}   token ids; POST /count {"texts"}: exact counts (no lock:
                            the vocabulary is read-only, so a generation never waits)
  POST /generate {"role", "kind", "kwargs", "stop_ids", "cache_reuse", "heal"}
       ("heal": a completion's first tokens must write this half-typed word; healing.py:
       all its tokens but the last go in as prompt, and are streamed first as one text)
       NDJSON: {"t": text} per token, {"k": 1} keep-alive every 0.25 s while the model
       is busy (the client treats 1.5 s of silence as a hung process), then
       {"done": reason, "prompt_tokens", "reused_tokens", "shifted_tokens", "prompt_ms"}
       or {"error": msg}. reused_tokens are the prompt tokens not evaluated again: the
       common start with the KV cache, plus runs further on that were moved into place
       (shifted_tokens, see reuse_cache).
       kind "eval" is a warm-up: the prompt goes into the role's KV cache and nothing is
       generated ({"done", "prompt_tokens", "reused_tokens", "evaluated_tokens"}).
A client that goes away stops its generation within a token (the next write fails), and a
warm-up within one chunk of EVAL_CHUNK tokens.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import queue
import secrets
import select
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from concurrent.futures import Future
from typing import Any, Callable, TypeVar

from ..families import FAMILIES
from .healing import HealConstraint, Vocabulary, split_heal
from .runtime import write_private_json

KEEPALIVE_S = 0.25
# tokens per llama.cpp call in a warm-up: a real request waits for at most one chunk
# (64 tokens take about 0.3 s on 2 cores; see docs/benchmarks.md "Warm-up")
EVAL_CHUNK = 64
# a client that stops a generation because the suggestion is whole sends this byte before
# closing, so that the counters tell an early finish from a user's cancel
FINISHED = b"F"
_END = object()
T = TypeVar("T")
# the shortest run of cached tokens worth moving into place rather than evaluating again,
# when a request does not say (the `cache_reuse` setting; llama.cpp server's --cache-reuse;
# llama.vim asks for 256 with its 64-line chunks, our unit is a notebook cell, often 50 to
# 200 tokens)
CACHE_REUSE_MIN = 32


class Stats:
    """Generation counters per role, read by tests, benchmarks and /status."""

    FIELDS = ("started", "completed", "cancelled", "failed", "tokens", "active", "max_active",
              "prompt_tokens", "reused_tokens", "shifted_tokens", "warmups", "warm_tokens", "warm_cancelled")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values = dict.fromkeys(self.FIELDS, 0)

    def begin(self) -> None:
        with self._lock:
            self.values["started"] += 1
            self.values["active"] += 1
            self.values["max_active"] = max(self.values["max_active"], self.values["active"])

    def end(self, outcome: str) -> None:
        with self._lock:
            self.values["active"] -= 1
            self.values[outcome] += 1

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.values[name] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.values)


class ModelThread:
    """One thread that makes every llama.cpp call of one model context, for the life of
    the process.

    Why: llama.cpp runs each token's graph on an OpenMP team led by the calling thread.
    libgomp keeps a team per leading thread, and once more threads are parked in teams than
    there are cores it stops spinning and sleeps between regions. With the first decode on
    the main thread and each generation on a new thread, every token woke sleeping threads:
    57 ms a token against 36 ms with one leading thread (the 0.5B model on 2 cores, measured
    by scripts in docs/benchmarks.md). So the calls of a role all come from this thread."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            fn, future = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller, which decides
                future.set_exception(exc)

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the model thread and wait for its result (or its exception)."""
        future: Future[T] = Future()
        self._jobs.put((fn, future))
        return future.result()


class Role:
    """One llama.cpp context on the shared weights, used by one request at a time, and
    called from its own model thread only."""

    def __init__(self, name: str, load: Callable[[], Any]) -> None:
        self.name = name
        self.thread = ModelThread(f"twin-model-{name}")
        self.llm = self.thread.call(load)
        self.lock = threading.Lock()
        self.stats = Stats()


class Worker:
    def __init__(self, model_path: Path, n_ctx: int, threads: int) -> None:
        import llama_cpp

        self.llama_cpp = llama_cpp
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.threads = threads
        self._roles: dict[str, Role] = {}
        self._roles_lock = threading.Lock()
        self.role("complete")  # load now: the process is ready when the model is
        self.special = self._special_tokens()
        # every token's text, for token healing's constraint (healing.py): about 0.3 s for
        # 150k tokens, once, rather than in the first healed request
        llm = self.role("complete").llm
        self.vocab = Vocabulary.from_model(llm.n_vocab(), lambda i: llm.detokenize([i]))
        self._first_decode()
        self.last_request = time.monotonic()
        self.clients: set[int] = set()

    def _load(self) -> Any:
        return self.llama_cpp.Llama(
            model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.threads,
            n_threads_batch=self.threads, n_batch=512, verbose=False,
        )

    def _first_decode(self) -> None:
        """Evaluate one token before saying "ready": a llama.cpp build that dies at its
        first decode (the AMX path on some Xeons) then dies while starting, which is
        reported with the doctor hint and not restarted in a loop."""
        role = self.role("complete")
        ids = self.tokenize("def first(xs):\n    return xs[0] if xs else None\n" * 2)
        role.thread.call(lambda: (role.llm.eval(ids), role.llm.reset()))

    def role(self, name: str) -> Role:
        with self._roles_lock:
            if name not in self._roles:
                # a second context over the same file: llama.cpp mmaps the weights, so the
                # pages are shared and only the KV cache is new (about 50 MB for the 0.5B model)
                self._roles[name] = Role(name, self._load)
            return self._roles[name]

    def tokenize(self, text: str) -> list[int]:
        llm = self.role("complete").llm
        return llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _special_tokens(self) -> dict[str, int]:
        """FIM and stop markers that are single tokens of this model's vocabulary."""
        found: dict[str, int] = {}
        for fam in FAMILIES.values():
            for text in (*fam.markers, *fam.stop):
                text = text.strip()
                if text and text not in found:
                    ids = self.tokenize(text)
                    if len(ids) == 1:
                        found[text] = ids[0]
        return found

    def info(self) -> dict[str, Any]:
        llm = self.role("complete").llm
        return {
            "model_file": self.model_path.name,
            "metadata": {k: v for k, v in (llm.metadata or {}).items() if not k.startswith("tokenizer.")},
            "special": self.special,
            "n_ctx": self.n_ctx,
            "threads": self.threads,
            "system_info": self.llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
            "pid": os.getpid(),
        }

    def stats(self) -> dict[str, Any]:
        with self._roles_lock:
            roles = dict(self._roles)
        per = {name: r.stats.snapshot() for name, r in roles.items()}
        total = dict.fromkeys(Stats.FIELDS, 0)
        for snap in per.values():
            for k, v in snap.items():
                total[k] += v
        total["max_active"] = max((s["max_active"] for s in per.values()), default=0)
        return {"roles": per, "total": total, "pid": os.getpid()}


def _common_prefix(a: Any, b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if int(x) != y:
            break
        n += 1
    return n


def reuse_cache(llm: Any, prompt_ids: list[int], min_run: int) -> tuple[int, int]:
    """Keep as much of the KV cache as the new prompt can use: the common start, and after
    it every run of at least `min_run` cached tokens that the prompt holds further on, moved
    into place by shifting its positions (llama.cpp server's cache reuse; llama-cpp-python
    reuses the common start only). When the context window's first cells drop out at a cell
    switch, the cells after them were evaluated already and are shifted, not evaluated
    again. Returns (tokens reused, of which shifted); the Llama object's token record is
    set to match, so its own prefix match finds them.

    Not exact, as in llama.cpp: a moved cell's keys and values were computed while the
    dropped cells stood before it, so some of what they said stays (docs/benchmarks.md
    measures what that does to FIM quality)."""
    cached = [int(t) for t in llm.input_ids[: llm.n_tokens]]
    head = _common_prefix(cached, prompt_ids)
    head_c = head_p = head
    shifted = 0
    if min_run <= 0:
        return head, 0
    ctx = llm._ctx
    while head_c < len(cached) and head_p < len(prompt_ids):
        n = 0
        while (head_c + n < len(cached) and head_p + n < len(prompt_ids)
               and cached[head_c + n] == prompt_ids[head_p + n]):
            n += 1
        if n >= min_run:
            # drop the cells between, then move the run back to where the prompt has it
            ctx.kv_cache_seq_rm(0, head_p, head_c)
            ctx.kv_cache_seq_shift(0, head_c, head_c + n, head_p - head_c)
            cached[head_p:head_p + n] = cached[head_c:head_c + n]
            head_p += n
            head_c += n
            shifted += n
        else:
            head_c += 1
    if shifted:
        ctx.kv_cache_seq_rm(0, head_p, -1)
        llm.input_ids[:head_p] = prompt_ids[:head_p]
        llm.n_tokens = head_p
        # the logits in hand are not those of the last kept token: sample only after a decode
        llm._requires_eval = True
    return head_p, shifted


class Generation:
    """One streamed generation, waited for on a thread of its own so that the request
    thread can send keep-alives and notice a client that went away while the model is busy.
    That thread waits for the role, then hands the model work to the role's ModelThread."""

    def __init__(self, worker: Worker, role: Role, kind: str, kwargs: dict[str, Any], stop_ids: set[int],
                 cache_reuse: int = 0, heal: str = "") -> None:
        self.worker = worker
        #: the half-typed word the completion must start with (token healing)
        self.heal = heal
        self.cache_reuse = cache_reuse
        self.role = role
        self.kind = kind
        self.kwargs = kwargs
        self.stop_ids = stop_ids
        self.events: queue.Queue[Any] = queue.Queue()
        self.stop = threading.Event()
        self.finished_early = False
        self.thread = threading.Thread(target=self._run, name="twin-generation", daemon=True)

    def _should_stop(self, input_ids: Any, logits: Any) -> bool:
        # called by llama-cpp-python after each sampled token
        return self.stop.is_set() or int(input_ids[-1]) in self.stop_ids

    def _run(self) -> None:
        role = self.role
        while not role.lock.acquire(timeout=0.05):
            if self.stop.is_set():
                self.events.put(_END)
                return
        try:
            role.thread.call(self._evaluate if self.kind == "eval" else self._complete)
        finally:
            role.lock.release()
            self.events.put(_END)

    def _complete(self) -> None:
        role = self.role
        outcome = "completed"
        role.stats.begin()
        info: dict[str, Any] = {}
        try:
            if self.stop.is_set():
                outcome = "cancelled"
                return
            llm = role.llm
            lc = self.worker.llama_cpp
            started = time.monotonic()
            if self.kind == "chat":
                gen = llm.create_chat_completion(stream=True, **self.kwargs)
            else:
                prompt_ids = llm.tokenize(self.kwargs["prompt"].encode("utf-8"), add_bos=False, special=True)
                word = self.heal.encode("utf-8")
                heal = word
                if word:
                    # the typed word but its last token goes in as prompt (healing.split_heal)
                    forced, heal = split_heal(self.worker.vocab, llm.tokenize(word, add_bos=False, special=False),
                                              word)
                    prompt_ids += forced
                reused, shifted = reuse_cache(llm, prompt_ids, self.cache_reuse)
                info.update(prompt_tokens=len(prompt_ids), reused_tokens=reused, shifted_tokens=shifted)
                role.stats.add("prompt_tokens", len(prompt_ids))
                role.stats.add("reused_tokens", reused)
                role.stats.add("shifted_tokens", shifted)
                # the prompt in chunks with a look at the stop flag between them, as a warm-up:
                # the next keystroke's request then waits at most one chunk, not the whole
                # prompt (llama-cpp-python evaluates it in one uninterruptible call), and
                # what was evaluated stays for that request. The last token is left to
                # create_completion, which needs its logits to sample.
                keep = min(reused, len(prompt_ids) - 1)
                if llm.n_tokens != keep:
                    # eval() drops the KV cells from here on and appends; the logits in hand
                    # are then not the kept token's, so create_completion must decode again
                    # (it would sample the last answer's logits for a prompt cached whole)
                    llm.n_tokens = keep
                    llm._requires_eval = True
                for begin in range(keep, len(prompt_ids) - 1, EVAL_CHUNK):
                    if self.stop.is_set():
                        break
                    llm.eval(prompt_ids[begin:min(begin + EVAL_CHUNK, len(prompt_ids) - 1)])
                if self.stop.is_set():
                    outcome = "cancelled"
                    return
                criteria = lc.StoppingCriteriaList([self._should_stop])
                # the token ids themselves: create_completion finds them all in the cache
                kwargs = {**self.kwargs, "prompt": prompt_ids}
                if heal:
                    kwargs["logits_processor"] = lc.LogitsProcessorList([HealConstraint(self.worker.vocab, heal)])
                gen = llm.create_completion(stream=True, stopping_criteria=criteria, **kwargs)
                if len(heal) < len(word):
                    # the stream still starts with the whole typed word, as the engine expects;
                    # the forced part is what split_heal took off the word (whole UTF-8)
                    self.events.put({"t": word[:len(word) - len(heal)].decode("utf-8")})
            first = True
            try:
                for chunk in gen:
                    if first:
                        info["prompt_ms"] = round((time.monotonic() - started) * 1000, 1)
                        first = False
                    role.stats.add("tokens")
                    if self.stop.is_set():
                        outcome = "completed" if self.finished_early else "cancelled"
                        break
                    choice = chunk["choices"][0]
                    if self.kind == "chat":
                        text = (choice.get("delta") or {}).get("content")
                    else:
                        text = choice.get("text")
                    if choice.get("finish_reason"):
                        info["finish_reason"] = choice["finish_reason"]
                    self.events.put({"t": text or ""})
            finally:
                gen.close()
            if self.stop.is_set() and not self.finished_early:
                outcome = "cancelled"
        except Exception as exc:  # the model failed: hand the error to the client
            outcome = "failed"
            self.events.put({"error": f"the model failed: {type(exc).__name__}: {exc}"})
        finally:
            role.stats.end(outcome)
            info["outcome"] = outcome
            self.events.put({"done": info.get("finish_reason") or outcome, **info})


    def _evaluate(self) -> None:
        """A warm-up: put the prompt in the KV cache and generate nothing (llama.vim's
        `n_predict: 0`). It runs in chunks of EVAL_CHUNK tokens with a look at the stop
        flag between them, so a keystroke's request waits at most one chunk; what was
        evaluated before the stop stays in the cache and is reused."""
        role, llm = self.role, self.role.llm
        info: dict[str, Any] = {}
        outcome = "completed"
        role.stats.add("warmups")
        try:
            prompt_ids = llm.tokenize(self.kwargs["prompt"].encode("utf-8"), add_bos=False, special=True)
            reused, shifted = reuse_cache(llm, prompt_ids, self.cache_reuse)
            info.update(prompt_tokens=len(prompt_ids), reused_tokens=reused, shifted_tokens=shifted)
            role.stats.add("shifted_tokens", shifted)
            llm.n_tokens = reused  # eval() drops the KV cells from here on
            todo = prompt_ids[reused:]
            done = 0
            for start in range(0, len(todo), EVAL_CHUNK):
                if self.stop.is_set():
                    outcome = "cancelled"
                    role.stats.add("warm_cancelled")
                    break
                chunk = todo[start:start + EVAL_CHUNK]
                llm.eval(chunk)
                done += len(chunk)
                role.stats.add("warm_tokens", len(chunk))
            info["evaluated_tokens"] = done
        except Exception as exc:
            outcome = "failed"
            self.events.put({"error": f"the model failed: {type(exc).__name__}: {exc}"})
        finally:
            info["outcome"] = outcome
            self.events.put({"done": outcome, **info})


class Handler(BaseHTTPRequestHandler):
    server: "WorkerServer"
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: a reply's headers and body, and each streamed token, are separate small
    # writes; with Nagle's algorithm the second waits for the client's delayed ACK, 40 ms
    # on Linux (every /count took 44 ms, and a token could wait as long)
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the log is for crashes
        pass

    def _authorized(self) -> bool:
        got = self.headers.get("Authorization", "")
        ok = hmac.compare_digest(got.encode(), f"Bearer {self.server.token}".encode())
        if not ok:
            self._json(401, {"error": "bad token"})
        return ok

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("Content-Length") or 0)
        data = json.loads(self.rfile.read(n) or b"{}")
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data

    def do_GET(self) -> None:
        if not self._authorized():
            return
        w = self.server.worker
        if self.path == "/health":
            self._json(200, {"ok": True, "pid": os.getpid()})
        elif self.path == "/info":
            self._json(200, w.info())
        elif self.path == "/stats":
            self._json(200, w.stats())
        else:
            self._json(404, {"error": "no such path"})

    def do_POST(self) -> None:
        if not self._authorized():
            return
        w = self.server.worker
        try:
            body = self._body()
        except ValueError as exc:
            self._json(400, {"error": str(exc)})
            return
        if self.path == "/hello":
            pid = body.get("pid")
            if isinstance(pid, int):
                w.clients.add(pid)
            self._json(200, {"ok": True})
        elif self.path == "/tokenize":
            self._json(200, {"ids": w.tokenize(str(body.get("text", "")))})
        elif self.path == "/count":
            texts = body.get("texts") or []
            self._json(200, {"counts": [len(w.tokenize(str(t))) for t in texts]})
        elif self.path == "/generate":
            self._generate(body)
        else:
            self._json(404, {"error": "no such path"})

    def _generate(self, body: dict[str, Any]) -> None:
        w = self.server.worker
        w.last_request = time.monotonic()
        role_name = body.get("role") if body.get("role") in ("complete", "chat") else "complete"
        kind = body.get("kind") if body.get("kind") in ("chat", "eval") else "completion"
        kwargs = body.get("kwargs") or {}
        reuse = body.get("cache_reuse", CACHE_REUSE_MIN)
        min_run = reuse if isinstance(reuse, int) and not isinstance(reuse, bool) and reuse >= 0 else CACHE_REUSE_MIN
        heal = body.get("heal")
        heal = heal[:64] if isinstance(heal, str) and kind == "completion" else ""
        gen = Generation(w, w.role(role_name), kind, kwargs, {int(i) for i in body.get("stop_ids") or []},
                         cache_reuse=min_run, heal=heal)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        gen.thread.start()
        threading.Thread(target=_watch_disconnect, args=(self.connection, gen), daemon=True,
                         name="twin-disconnect").start()
        try:
            while True:
                try:
                    item = gen.events.get(timeout=KEEPALIVE_S)
                except queue.Empty:
                    item = {"k": 1}
                if item is _END:
                    break
                self.wfile.write(json.dumps(item).encode() + b"\n")
                self.wfile.flush()
        except OSError:  # the client went away: stop the model at the next token
            gen.stop.set()
        finally:
            w.last_request = time.monotonic()


def _watch_disconnect(sock: Any, gen: Generation) -> None:
    """Stop the generation the moment the client closes its end (a cancel), not at the next
    failed write: the client sends nothing after its request, so readable means closed."""
    while gen.thread.is_alive():
        try:
            readable, _, _ = select.select([sock], [], [], 0.5)
            if readable:
                data = sock.recv(1, socket.MSG_PEEK)
                if data == FINISHED:  # the client has the whole suggestion: not a cancel
                    gen.finished_early = True
                if data in (b"", FINISHED):
                    gen.stop.set()
                    return
                time.sleep(0.05)  # unexpected bytes from the client: do not spin on them
        except (OSError, ValueError):  # closed under us: the request is over
            gen.stop.set()
            return


class WorkerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, worker: Worker, token: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.worker = worker
        self.token = token


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watchdog(server: WorkerServer, idle_s: float, check_s: float = 2.0) -> None:
    """Exit after `idle_s` without a request, or once every registered front door is gone."""
    w = server.worker
    while True:
        time.sleep(check_s)
        busy = any(r.stats.values["active"] for r in list(w._roles.values()))
        if busy:
            continue
        if idle_s > 0 and time.monotonic() - w.last_request > idle_s:
            reason = f"idle for {idle_s:g} s"
        elif w.clients and not any(_alive(p) for p in list(w.clients)):
            reason = "its last user is gone"
        else:
            continue
        print(f"jupyter-twin model process: exiting, {reason}", file=sys.stderr, flush=True)
        os._exit(0)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--n-ctx", type=int, default=4096)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--idle", type=float, default=900.0)
    p.add_argument("--runtime-file", required=True)
    args = p.parse_args(argv)
    worker = Worker(Path(args.model), args.n_ctx, args.threads)
    token = secrets.token_urlsafe(32)
    server = WorkerServer(worker, token)
    threading.Thread(target=watchdog, args=(server, args.idle), daemon=True, name="twin-watchdog").start()
    # the runtime file says "ready": it is written only once the model is loaded
    write_private_json(Path(args.runtime_file), {
        "pid": os.getpid(), "supervisor": os.getppid(), "port": server.server_address[1],
        "token": token, "model": str(args.model), "started": time.time(),
    })
    server.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    main()
