"""The production server's worker hook: what Django loaded is kept out of garbage collection."""

import gc

from config import gunicorn


def test_a_worker_freezes_what_it_loaded() -> None:
    try:
        gunicorn.post_worker_init(object())

        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
