"""The soak and fault run (`make soak`, `python -m bench.soak`): bench/README.md."""
