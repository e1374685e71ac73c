"""The test doubles, in one place: servers that speak a backend's API (Ollama's, generating
with the real demo model; faulty and hostile ones) and in-process fake backends. Import them
as `from fakes.X import ...` (tests/conftest.py puts tests/ on sys.path)."""
