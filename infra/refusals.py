"""Refusals made on purpose are not server errors in the logs.

Django's `django.request` logger writes every 5xx answer at ERROR, which is what alerting
and ADMINS e-mails watch. Some 503s are designed: the deprovisioning brake holding a
deactivation says "retry after a release" (with Retry-After), and nothing is wrong with the
service. The code that answers one logs it itself, as a warning naming the company, and
marks the request; `DeliberateRefusalFilter` (on `django.request`, in settings.LOGGING)
drops that request's ERROR line only. Any other 5xx, including a 503 for a database outage,
is still logged as an error.
"""

from __future__ import annotations

import logging

_MARK = "deliberate_refusal_status"


def refusal_mark(request: object, status: int) -> None:
    """Note on the Django request that its `status` answer was a deliberate refusal, already
    logged by the caller."""
    setattr(request, _MARK, status)


class DeliberateRefusalFilter(logging.Filter):
    """Drops `django.request`'s record of a response marked by `refusal_mark` (Django gives
    the record `status_code` and `request`); passes everything else."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        request = getattr(record, "request", None)
        return status is None or getattr(request, _MARK, None) != status
