"""The model process: llama.cpp runs here, never in the Jupyter server or a user's kernel.

- `worker`: the process that loads the GGUF file and streams generations over loopback HTTP.
- `supervisor` (`python -m jupyter_twin.modelproc`): starts the worker, waits for it and
  records how it ended (exit code or signal), so every front door can say why it stopped.
- `client`: finds the running process through its runtime file, or starts one under a lock;
  streams from it; turns a crash or a hang into a one-line error.

docs/model-process.md describes who starts it, where its file lives, how it is found,
queued, restarted and stopped.
"""
