"""Benchmarks: notebook FIM, typing latency, HumanEval single-line infilling."""
