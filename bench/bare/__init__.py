"""The bare one-lookup ceiling of `make bench`: a separate, minimal Django + DRF app (empty
middleware, no authentication, no tenancy) doing the same indexed `lower(userName)` lookup
as Headcount's one-lookup ceiling, on a copy of the benchmark company's users (same rows,
same size) in its own schema, `bench_bare`. Served by the same gunicorn settings in the same
run, it is what one lookup costs with nothing of Headcount around it: every workload is also
reported as a share of it.

Never imports Headcount's apps: its settings are its own (bench/bare/settings.py)."""
