"""Developer entry points behind `make run` and `make test`: find or start PostgreSQL and
Redis, then run the product or the test suite against them."""
