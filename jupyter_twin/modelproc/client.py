"""Front doors' side of the model process: find it or start it, stream from it, and turn a
crash or a hang into a one-line error within 2 seconds.

One process serves every front door of a user for one model file (the server extension,
the magics in every kernel, the CLI): it is found through its runtime file, or started
under a file lock so that two kernels starting at once make one process, not two.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx

from ..backends.http import SocketGrip, tls_context
from ..errors import BackendError, BackendTimeout, BackendUnavailable
from ..stream import BackendStream
from .build import best_variant
from .runtime import paths, process_key, read_json
from .worker import FINISHED, _alive  # one liveness check for both sides

# keep-alives come every 0.25 s; after this much silence the worker is looked at
SILENCE_S = 0.75
# a ping it does not answer in this long means hung (the whole check stays under 2 s)
PING_S = 1.0
START_TIMEOUT_S = 180.0
# a worker that died while starting is not started again for this long (no crash loop)
STARTUP_CRASH_HOLD_S = 60.0
REBUILD_HINT = "run `jupyter-twin doctor` for the cause and the command that rebuilds llama-cpp-python"


class ModelProcessError(BackendError):
    """The model process crashed, hung or could not start."""


@dataclass(frozen=True)
class Endpoint:
    pid: int
    port: int
    token: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _state(pid: int) -> str:
    """The process state letter from /proc (T: stopped by a signal, Z: dead), '' if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[0] if ")" in stat else ""


def _stopped(reason: str | None) -> ModelProcessError:
    """A worker that ended by itself, with the supervisor's reason (a signal, an exit code)."""
    return ModelProcessError(f"The model process stopped ({reason}); the next request starts a new one")


class ModelProcess:
    """The model process for one model file, context size and thread count."""

    def __init__(self, model: Path, n_ctx: int, threads: int, idle: float = 900.0) -> None:
        self.model = model
        self.n_ctx = n_ctx
        self.threads = threads
        self.idle = idle
        self.key = process_key(model, n_ctx, threads)
        # fixed once: the runtime directory comes from the environment, and a front door
        # must keep looking where it started its process (tests change it per test)
        self._files = paths(self.key)
        self._lock = threading.Lock()
        self._endpoint: Endpoint | None = None
        self._hello: set[int] = set()
        self._client: httpx.Client | None = None
        self._startup_crash: tuple[float, str] | None = None
        self.starts = 0  # workers started by this object (tests and /status read it)
        self.last_failure: str | None = None  # the last crash or hang, for /status
        self.variant: str | None = None  # the llama.cpp build the worker runs
        self._variant_failed = False

    # --- finding and starting -------------------------------------------------
    @property
    def files(self) -> dict[str, Path]:
        return self._files

    def _from_file(self) -> Endpoint | None:
        data = read_json(self.files["json"])
        if not data:
            return None
        try:
            ep = Endpoint(int(data["pid"]), int(data["port"]), str(data["token"]))
        except (KeyError, TypeError, ValueError):
            return None
        return ep if _alive(ep.pid) and _state(ep.pid) not in ("Z", "T") else None

    def _answers(self, ep: Endpoint, timeout: float = 2.0) -> bool:
        try:
            r = httpx.get(ep.url + "/health", headers=ep.headers, timeout=timeout)
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    def endpoint(self) -> Endpoint:
        """The running process, started first if none runs (blocks while it loads)."""
        with self._lock:
            ep = self._endpoint
            if ep is not None and _alive(ep.pid) and _state(ep.pid) not in ("Z", "T"):
                return ep
            self._endpoint = None
            ep = self._from_file()
            if ep is None or not self._answers(ep):
                ep = self._start()
            self._endpoint = ep
        if ep.pid not in self._hello:
            self._hello.add(ep.pid)
            self._post(ep, "/hello", {"pid": os.getpid()}, timeout=5.0)
        return ep

    def current(self) -> Endpoint | None:
        """The running worker, if there is one (never starts one). Another front door may
        have replaced the one this object last used: then the runtime file names it."""
        for ep in (self._endpoint, self._from_file()):
            if ep is not None and _alive(ep.pid) and _state(ep.pid) != "Z":
                return ep
        return None

    @property
    def running(self) -> bool:
        """True if a process is up (never starts one)."""
        return self.current() is not None

    def _start(self) -> Endpoint:
        if self._startup_crash and time.monotonic() - self._startup_crash[0] < STARTUP_CRASH_HOLD_S:
            raise ModelProcessError(self._startup_crash[1])
        f = self.files
        f["lock"].parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(f["lock"], os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one starter at a time, across processes
            try:
                ep = self._from_file()  # someone else may have started it meanwhile
                if ep is not None and self._answers(ep):
                    return ep
                self._end_stale()
                for old in f["exit"].parent.glob(f["exit"].name + "-*"):
                    try:  # per-worker records nobody read (idle exits, ended hangs)
                        if time.time() - old.stat().st_mtime > 60:
                            old.unlink()
                    except OSError:
                        pass
                for name in ("exit", "json"):
                    try:
                        f[name].unlink()
                    except FileNotFoundError:
                        pass
                return self._spawn()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _end_stale(self) -> None:
        """A worker in the runtime file that is stopped or does not answer holds memory
        for nothing: end it before starting the next one."""
        data = read_json(self.files["json"]) or {}
        try:
            pid = int(data.get("pid", 0))
        except (TypeError, ValueError):
            return
        if pid > 0 and _alive(pid) and _state(pid) not in ("Z", ""):
            try:
                os.kill(pid, 9)
            except OSError:
                pass

    def _spawn(self) -> Endpoint:
        f = self.files
        cmd = [sys.executable, "-m", "jupyter_twin.modelproc", "--model", str(self.model),
               "--n-ctx", str(self.n_ctx), "--threads", str(self.threads), "--idle", str(self.idle),
               "--runtime-file", str(f["json"]), "--exit-file", str(f["exit"]), "--detach"]
        env = dict(os.environ)
        self.variant, lib_dir = best_variant()
        if "LLAMA_CPP_LIB_PATH" in env:
            self.variant = "LLAMA_CPP_LIB_PATH (set by the user)"  # no path to the browser
        elif lib_dir is not None and not self._variant_failed:
            env["LLAMA_CPP_LIB_PATH"] = lib_dir  # our runtime CPU dispatch (build.py)
        elif lib_dir is not None:
            self.variant = "x86-64-v3 (the faster build crashed here)"
        # the worker must not inherit a kernel's or server's stdout pipes or their group:
        # it outlives the front door that started it and is shared by the others
        with open(f["log"], "ab") as log:
            os.chmod(f["log"], 0o600)
            sup = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                                   start_new_session=True, close_fds=True, env=env)
        # the launcher forks the supervisor, prints its pid and returns at once
        out, _ = sup.communicate(timeout=60)
        try:
            supervisor = int(out.split()[0])
        except (ValueError, IndexError):
            raise ModelProcessError(f"The model process could not be started; see {f['log']}") from None
        self.starts += 1
        from ..progress import Waiting

        waiting = Waiting(f"starting the model process ({self.model.name})")
        try:
            return self._wait_started(f, env, supervisor, waiting)
        finally:
            waiting.close()

    def _wait_started(self, f: dict[str, Path], env: dict[str, str], supervisor: int, waiting: Any) -> Endpoint:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            waiting.tick()
            ep = self._from_file()
            if ep is not None:
                return ep
            ended = read_json(f["exit"])
            if ended is None and (not _alive(supervisor) or _state(supervisor) == "Z"):
                ended = self._wait_exit(0.5) or {"reason": f"its supervisor ended; see {f['log'].name}"}
            if ended is not None:
                if env.get("LLAMA_CPP_LIB_PATH") and "LLAMA_CPP_LIB_PATH" not in os.environ:
                    # the faster build died on this CPU: the baseline build, once, at once
                    self._variant_failed = True
                    for name in ("exit", "json"):
                        try:
                            f[name].unlink()
                        except FileNotFoundError:
                            pass
                    return self._spawn()
                msg = (f"The model process stopped while loading {self.model.name} "
                       f"({ended.get('reason')}); {REBUILD_HINT}")
                self._startup_crash = (time.monotonic(), msg)
                self.last_failure = msg
                raise ModelProcessError(msg)
            time.sleep(0.05)
        raise BackendTimeout(f"The model process did not start within {START_TIMEOUT_S:.0f} s")

    def _wait_exit(self, wait: float, pid: int | None = None) -> dict[str, Any] | None:
        """The supervisor's record of how a worker ended (of worker `pid` if given)."""
        path = self.files["exit"] if pid is None else Path(f"{self.files['exit']}-{pid}")
        end = time.monotonic() + wait
        while True:
            data = read_json(path)
            if data is not None or time.monotonic() >= end:
                # kept, not deleted on read: several requests (a status poll, the stream
                # that saw the crash) may each ask why this worker ended; _start removes
                # records older than a minute
                return data
            time.sleep(0.02)

    # --- requests ---------------------------------------------------------------
    def http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=httpx.Timeout(10.0, connect=2.0), verify=tls_context())
        return self._client

    def _post(self, ep: Endpoint, path: str, body: dict[str, Any], timeout: float = 10.0) -> Any:
        try:
            r = self.http().post(ep.url + path, json=body, headers=ep.headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise self.failure(ep, exc) from None
        if r.status_code != 200:
            raise ModelProcessError(f"The model process answered {path} with HTTP {r.status_code}")
        return r.json()

    def get(self, path: str) -> Any:
        ep = self.endpoint()
        try:
            r = self.http().get(ep.url + path, headers=ep.headers)
        except httpx.HTTPError as exc:
            raise self.failure(ep, exc) from None
        if r.status_code != 200:
            raise ModelProcessError(f"The model process answered {path} with HTTP {r.status_code}")
        return r.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._post(self.endpoint(), path, body)

    def stats(self) -> dict[str, Any] | None:
        """The worker's generation counters, or None if no worker runs (never starts one)."""
        ep = self.current()
        if ep is None or _state(ep.pid) in ("T", "Z", ""):
            return None
        try:
            r = self.http().get(ep.url + "/stats", headers=ep.headers, timeout=PING_S)
            return r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    # --- failures -----------------------------------------------------------------
    def failure(self, ep: Endpoint, exc: BaseException | None = None) -> ModelProcessError:
        """Why a request to `ep` failed: a crash (with its signal), or a hang (then the
        worker is ended, so that the next request starts a fresh one)."""
        error = self._failure(ep, exc)
        self.last_failure = str(error)
        return error

    def status(self) -> dict[str, Any]:
        """For /status and `%twin status`: is a worker up, and how did the last one fail."""
        ep = self.current()
        return {"running": ep is not None, "pid": ep.pid if ep else None, "starts": self.starts,
                "llama_build": self.variant, "last_failure": self.last_failure}

    def hung(self, ep: Endpoint, how: str) -> ModelProcessError:
        """End a worker that is stopped or does not answer, so the next request starts anew."""
        with self._lock:
            if self._endpoint == ep:
                self._endpoint = None
        try:
            os.kill(ep.pid, 9)
        except OSError:
            pass
        # A worker that crashed can look hung for a moment: between its fatal signal and
        # its end (its threads and 500 MB torn down, slower on a loaded machine) a ping gets
        # no answer and /proc does not say Z yet. SIGKILL does not change how a dying
        # process ends, so the supervisor's record tells the crash (signal 11) from the
        # hang we ended (signal 9).
        ended = self._wait_exit(1.0, ep.pid)
        if ended and ended.get("returncode") not in (None, -9):
            error = _stopped(ended.get("reason"))
        else:
            error = ModelProcessError(f"The model process {how} and was ended; the next request starts a new one")
        self.last_failure = str(error)
        return error

    def _failure(self, ep: Endpoint, exc: BaseException | None) -> ModelProcessError:
        with self._lock:
            if self._endpoint == ep:
                self._endpoint = None
        if _alive(ep.pid) and _state(ep.pid) not in ("Z",):
            if _state(ep.pid) == "T" or not self._answers(ep, PING_S):
                how = "was stopped by a signal" if _state(ep.pid) == "T" else "stopped answering"
                return self.hung(ep, how)
            return ModelProcessError(f"The model process closed the connection: {exc}")
        ended = self._wait_exit(1.5, ep.pid)
        reason = ended.get("reason") if ended else "it is gone"
        return _stopped(reason)

    def stop(self) -> None:
        """End the worker (tests, `jupyter-twin model stop`)."""
        ep = self.current()
        if ep is not None:
            os.kill(ep.pid, 15)
        self._endpoint = None


_PROCESSES: dict[str, ModelProcess] = {}
_PROCESSES_LOCK = threading.Lock()


def model_process(model: Path, n_ctx: int, threads: int, idle: float = 900.0) -> ModelProcess:
    """The one ModelProcess object of this Python process for these settings."""
    key = process_key(model, n_ctx, threads)
    with _PROCESSES_LOCK:
        if key not in _PROCESSES:
            _PROCESSES[key] = ModelProcess(model, n_ctx, threads, idle)
        return _PROCESSES[key]


class ProcessStream(BackendStream):
    """One generation streamed from the worker; cancel closes the socket, which stops the
    model within a token.

    A watchdog thread beside the reader looks at the worker whenever the stream has been
    silent for SILENCE_S (the worker sends keep-alives every 0.25 s): a worker stopped by
    a signal, or one that does not answer a ping, is ended and the stream fails at once.
    A slow but healthy worker (a loaded machine) is left alone."""

    def __init__(self, proc: ModelProcess, body: dict[str, Any], *, deadline: float | None) -> None:
        super().__init__(deadline=deadline)
        self._proc = proc
        self._body = body
        self._grip = SocketGrip()
        self._last_bytes = time.monotonic()
        self._hung: str | None = None
        # ends the watchdog; set by the reader's end and by cancel, because a caller that
        # cancels and never reads again leaves the reader suspended, and the watchdog would
        # ping a healthy worker every SILENCE_S for as long as the stream object lives
        self._watch_done = threading.Event()
        self.info: dict[str, Any] = {}

    def _watch(self, ep: Endpoint, done: threading.Event) -> None:
        while not done.wait(0.1):
            if time.monotonic() - self._last_bytes < SILENCE_S:
                continue
            state = _state(ep.pid)
            if state in ("", "Z"):
                return  # dead: the reader sees the connection end and asks why
            if state == "T":
                self._hung = "was stopped by a signal"
            elif not self._proc._answers(ep, PING_S):
                self._hung = "stopped answering"
            else:
                self._last_bytes = time.monotonic()  # alive, only slow
                continue
            self._grip.shutdown()
            return

    def _generate(self) -> Iterator[str]:
        proc = self._proc
        ep = proc.endpoint()
        # a client per stream, so that cancel can shut its socket (SocketGrip); the TLS
        # context is shared, as building one costs 26 ms of CPU (backends/http.py)
        client = httpx.Client(timeout=httpx.Timeout(None, connect=2.0), event_hooks=self._grip.event_hooks(),
                              verify=tls_context())
        done = self._watch_done
        watchdog = threading.Thread(target=self._watch, args=(ep, done), daemon=True, name="jupyter-twin-watch")
        self._last_bytes = time.monotonic()
        watchdog.start()
        try:
            with client.stream("POST", ep.url + "/generate", json=self._body, headers=ep.headers) as r:
                if r.status_code != 200:
                    r.read()
                    raise ModelProcessError(f"The model process answered HTTP {r.status_code}: {r.text[:200]}")
                for line in r.iter_lines():
                    self._last_bytes = time.monotonic()
                    if not line:
                        continue
                    event = json.loads(line)
                    if "t" in event:
                        yield event["t"]
                    elif "k" in event:
                        yield ""  # keep-alive: lets the caller check cancel and deadline
                    elif "error" in event:
                        raise BackendError(f"The embedded model failed: {event['error']}")
                    elif "done" in event:
                        self.info = event
                        if event.get("finish_reason"):
                            self.done_reason = event["finish_reason"]
                        return
            if not self.cancelled and not self.finished_early:
                raise self._why(ep)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            if self.cancelled or self.finished_early:
                return
            raise self._why(ep, exc) from None
        finally:
            done.set()
            client.close()
            watchdog.join(2.0)

    def _why(self, ep: Endpoint, exc: BaseException | None = None) -> ModelProcessError:
        if self._hung is not None:
            return self._proc.hung(ep, self._hung)
        return self._proc.failure(ep, exc)

    def _abort(self) -> None:
        if self.finished_early:
            self._grip.send(FINISHED)  # the worker counts it as completed, not cancelled
        self._watch_done.set()
        self._grip.shutdown()
