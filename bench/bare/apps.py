from django.apps import AppConfig


class BareConfig(AppConfig):
    name = "bench.bare"
    label = "bench_bare"
    verbose_name = "Benchmark: bare one-lookup ceiling (never in production)"
