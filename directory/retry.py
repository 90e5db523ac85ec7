"""Retry from the log: a failed SCIM write whose cause has since been fixed (seats added, a
policy changed, a conflicting user removed) is applied again, from its ledger row, by an owner
or admin.

The replay goes through the same services as the SCIM endpoint (directory/services.py,
directory/groups.py), with the original operation and resource id, never through HTTP: the
seat lock, the constraints and the ledger apply unchanged. Its outcome is a new ledger row
whose `retry_of` names the failure.

What is replayed is the stored request, which is the redacted one (directory.ledger): secrets
were dropped from resource bodies and replaced by a marker in PATCH operations, so a password
is never replayed, and an operation that carried only a secret is left out.

The original row is locked (FOR UPDATE) for the length of a retry, so two admins clicking
"Retry" at once apply it once; a row whose retry succeeded is not retried again. That lock
comes before every lock the services take (directory.selectors documents their order), and
nothing else locks ledger rows, so it cannot deadlock with them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from directory import groups, services
from directory.ledger import TOO_LARGE_TO_KEEP, CallContext
from directory.models import (
    BATCH_ABANDONED_AFTER,
    Group,
    Member,
    ProvisioningEvent,
    RetryBatch,
)
from directory.selectors import parse_member_id
from scim_protocol.errors import ScimError
from scim_protocol.redaction import REDACTED
from tenants.gate import scim_gate
from tenants.models import Company

RETRY_IDP = "Headcount: retry from the log"
OPERATIONS = ("create", "replace", "patch", "delete")
RESOURCE_TYPES = ("User", "Group")
# "Retry all failures of this kind" replays at most this many (the newest ones, once per
# user or group); up to BULK_INLINE in the request, more in a Celery task.
BULK_LIMIT = 1000
BULK_INLINE = 20
# A background batch writes its progress every this many retries (about a second's work).
BATCH_PROGRESS_EVERY = 10


class RetryRefused(Exception):
    """This log entry cannot be retried; the message says why, for the company's admins."""


class RetryBatchRunning(Exception):
    """A retry of this kind of failure is queued or running already (`batch`)."""

    def __init__(self, batch: RetryBatch):
        super().__init__(f"A retry of these failures is running already ({batch.pk}).")
        self.batch = batch


@dataclass(frozen=True)
class RetryResult:
    original: ProvisioningEvent
    outcome: ProvisioningEvent  # the new ledger row, linked to `original`

    @property
    def succeeded(self) -> bool:
        return self.outcome.outcome == ProvisioningEvent.Outcome.SUCCEEDED


@dataclass(frozen=True)
class BulkRetryReport:
    succeeded: int = 0
    failed: int = 0
    refused: int = 0

    @property
    def tried(self) -> int:
        return self.succeeded + self.failed + self.refused

    def as_dict(self) -> dict[str, int]:
        return {"succeeded": self.succeeded, "failed": self.failed, "refused": self.refused}


def _succeeded_retry() -> Exists:
    return Exists(
        ProvisioningEvent.objects.filter(
            retry_of=OuterRef("pk"), outcome=ProvisioningEvent.Outcome.SUCCEEDED
        )
    )


def _created_since() -> Q:
    """A failed create whose user (by userName) or group (by displayName) was created after
    it: by the seat waitlist, a later request or someone else. Replaying it could only be
    refused as taken. Folded as the unique indexes fold, and read through them."""
    user = Exists(
        Member.objects.alias(name=Lower("user_name")).filter(
            name=Lower(OuterRef("user_name")), created_at__gt=OuterRef("created_at")
        )
    )
    group = Exists(
        Group.objects.alias(name=Lower("display_name")).filter(
            name=Lower(OuterRef("display_name")), created_at__gt=OuterRef("created_at")
        )
    )
    create = Q(operation="create", outcome=ProvisioningEvent.Outcome.FAILED)
    return (create & Q(resource_type="User") & Q(user)) | (
        create & Q(resource_type="Group") & Q(group)
    )


def retry_refusal(event: ProvisioningEvent) -> str | None:
    """Why `event` cannot be retried, in words for the admin, or None when it can. Reads the
    current state (a resource deleted since, a successful retry)."""
    if event.outcome != ProvisioningEvent.Outcome.FAILED:
        return "Only failed requests can be retried."
    if event.operation not in OPERATIONS or event.resource_type not in RESOURCE_TYPES:
        return "Only creates, replaces, updates and deletes of users and groups can be retried."
    if event.retry_of_id is not None:
        # Its request is its original's: retrying from there keeps one line of history.
        return "This is a retry of an earlier request: retry that one, from its entry."
    # Read with the row when it came through with_retry_state, else asked here.
    retried = getattr(event, "retry_succeeded", None)
    if retried is None:
        retried = ProvisioningEvent.objects.filter(
            retry_of=event, outcome=ProvisioningEvent.Outcome.SUCCEEDED
        ).exists()
    if retried:
        return "This request was retried successfully already."
    if event.request_body == TOO_LARGE_TO_KEEP:
        return (
            "The request was too large to keep, so it cannot be replayed. "
            "Have your identity provider send it again."
        )
    if event.operation != "delete" and event.request_body is None:
        return (
            "No request was stored for this entry, so there is nothing to replay. "
            "Have your identity provider send it again."
        )
    noun = "user" if event.resource_type == "User" else "group"
    created_since = getattr(event, "created_since", None)
    if created_since is None and event.operation == "create":
        created_since = ProvisioningEvent.objects.filter(_created_since(), pk=event.pk).exists()
    if created_since:
        name = event.user_name if event.resource_type == "User" else event.display_name
        return (
            f"The {noun} {name} was created since (from the seat waitlist or by a later "
            "request): there is nothing left to create."
        )
    if event.operation != "create":
        if event.resource_id is None:
            return f"The request named no existing {noun}, so it cannot be replayed."
        model: type[Member] | type[Group] = Member if event.resource_type == "User" else Group
        if not model.objects.filter(pk=event.resource_id).exists():
            if event.operation == "delete":
                return f"The {noun} is gone already: there is nothing left to delete."
            return f"The {noun} this request changes no longer exists."
    if event.operation == "patch" and not _replayable_operations(event.request_body):
        return (
            "Every operation of this update set a secret (a password), and secrets are never "
            "kept, so there is nothing to replay."
        )
    return None


def _replayable_operations(body: Any) -> list[Any]:
    """The stored PATCH operations without those whose value or path was redacted."""
    if not isinstance(body, list):
        return []
    return [
        operation
        for operation in body
        if not (
            isinstance(operation, dict)
            and (operation.get("value") == REDACTED or operation.get("path") == REDACTED)
        )
    ]


def ledger_retry(
    *, company: Company, event_id: int, actor: str, request_id: str = ""
) -> RetryResult:
    """Replay the failed write of ledger row `event_id` through the services; the outcome
    (success or a new failure) is a new ledger row linked to it.

    Raises ProvisioningEvent.DoesNotExist for an unknown row, RetryRefused when the row
    cannot be retried (retry_refusal says why).
    """
    with transaction.atomic():
        event = ProvisioningEvent.objects.select_for_update().get(pk=event_id)
        reason = retry_refusal(event)
        if reason is not None:
            raise RetryRefused(reason)
        # A retry is a write like the IdP's: it waits while support has SCIM switched off or
        # the company suspended.
        gate = scim_gate(company, fresh=True)
        if not gate.open:
            raise RetryRefused(f"{gate.detail} Retry once it is on again.")
        context = CallContext(
            idp=RETRY_IDP,
            credential=f"retried by {actor}",
            request_id=request_id,
            retry_of=event.pk,
        )
        # A failure is recorded by the service, linked to `event`, like a success.
        with suppress(ScimError):
            _replay(company, event, context)
        outcome = ProvisioningEvent.objects.filter(retry_of=event).latest("id")
    return RetryResult(original=event, outcome=outcome)


def _replay(company: Company, event: ProvisioningEvent, context: CallContext) -> None:
    body = event.request_body
    resource_id = str(event.resource_id)
    match (event.resource_type, event.operation):
        case ("User", "create"):
            services.member_create(company=company, payload=body, context=context)
        case ("User", "replace"):
            services.member_replace(
                company=company, member_id=resource_id, payload=body, context=context
            )
        case ("User", "patch"):
            services.member_patch(
                company=company,
                member_id=resource_id,
                operations=_replayable_operations(body),
                context=context,
            )
        case ("User", "delete"):
            services.member_delete(company=company, member_id=resource_id, context=context)
        case ("Group", "create"):
            groups.group_create(payload=body, context=context)
        case ("Group", "replace"):
            groups.group_replace(group_id=resource_id, payload=body, context=context)
        case ("Group", "patch"):
            groups.group_patch(
                group_id=resource_id, operations=_replayable_operations(body), context=context
            )
        case ("Group", "delete"):
            groups.group_delete(group_id=resource_id, context=context)
        case _:  # retry_refusal lets nothing else through
            raise RetryRefused("This request cannot be retried.")


# --- "Retry all failures of this kind" ---------------------------------------------------------


def failures_of_kind(status: int, scim_type: str) -> QuerySet[ProvisioningEvent]:
    """Failed requests of the identity provider (not retries) with this status and scimType,
    not retried successfully yet, newest first (indexed: provisioning_failed_kind)."""
    return (
        ProvisioningEvent.objects.filter(
            outcome=ProvisioningEvent.Outcome.FAILED,
            status=status,
            scim_type=scim_type,
            retry_of__isnull=True,
        )
        .exclude(_succeeded_retry())
        .exclude(_created_since())
        .order_by("-created_at", "-id")
    )


def failures_to_retry(status: int, scim_type: str, limit: int = BULK_LIMIT) -> list[int]:
    """The ids to replay for "retry all failures of this kind". Of the newest `limit` such
    failures, one per user or group and operation (an identity provider repeats a failing
    request; one replay is enough): its newest request, which carries what the IdP wants
    now. They are ordered by each one's first failure, so the person who has waited longest
    gets a freed seat first."""
    return _failures_chosen(status, scim_type, limit)[0]


def _failures_chosen(status: int, scim_type: str, limit: int) -> tuple[list[int], int]:
    """failures_to_retry, and how many failures it read (`limit` when there are more)."""
    rows = failures_of_kind(status, scim_type).values_list(
        "id",
        "created_at",
        "operation",
        "resource_type",
        "resource_id",
        "user_name",
        "display_name",
    )[:limit]
    newest: dict[tuple[str, str, str], int] = {}
    read = 0
    first_failed: dict[tuple[str, str, str], tuple[Any, int]] = {}
    for event_id, created_at, operation, resource_type, resource_id, user_name, name in rows:
        read += 1
        who = str(resource_id) if resource_id else (user_name or name).lower()
        key = (operation, resource_type, who or f"#{event_id}")
        newest.setdefault(key, event_id)
        first_failed[key] = (created_at, event_id)  # newest first: the last one is the oldest
    return [newest[key] for key in sorted(newest, key=first_failed.__getitem__)], read


def ledger_retry_kind(
    *, company: Company, status: int, scim_type: str, actor: str, request_id: str = ""
) -> tuple[int, BulkRetryReport | None]:
    """ "Retry all failures of this kind": how many were chosen, and the report when they
    were few enough to retry now; otherwise they are queued for a Celery task (which
    e-mails `actor` the report) once this transaction commits, and the report is None.

    Raises RetryBatchRunning when a batch of this kind is queued or running already."""
    event_ids = failures_to_retry(status, scim_type)
    if len(event_ids) <= BULK_INLINE:
        report = ledger_retry_many(
            company=company, event_ids=event_ids, actor=actor, request_id=request_id
        )
        return len(event_ids), report
    from directory.tasks import ledger_retry_batch

    batch = retry_batch_open(status=status, scim_type=scim_type, actor=actor, total=len(event_ids))
    transaction.on_commit(lambda: ledger_retry_batch.delay(event_ids, actor, str(batch.pk)))
    return len(event_ids), None


def retry_batch_open(*, status: int, scim_type: str, actor: str, total: int) -> RetryBatch:
    """Record a background batch of this kind. The constraint decides, so two clicks at once
    (two web workers) cannot both open one. Raises RetryBatchRunning with the unfinished one."""
    unfinished = RetryBatch.objects.filter(
        http_status=status, scim_type=scim_type, finished_at__isnull=True
    )
    now = timezone.now()
    unfinished.filter(updated_at__lt=now - BATCH_ABANDONED_AFTER).update(finished_at=now)
    try:
        with transaction.atomic():
            return RetryBatch.objects.create(
                http_status=status, scim_type=scim_type, requested_by=actor, total=total
            )
    except IntegrityError:
        running = unfinished.first()
        if running is None:  # it finished in between: the click may open the next one
            return retry_batch_open(status=status, scim_type=scim_type, actor=actor, total=total)
        raise RetryBatchRunning(running) from None


def retry_batch_running(status: int, scim_type: str) -> RetryBatch | None:
    """The queued or running background batch of this kind, if any."""
    return RetryBatch.objects.filter(
        http_status=status, scim_type=scim_type, finished_at__isnull=True
    ).first()


def retry_batch_get(batch_id: str) -> RetryBatch | None:
    """The batch with this id, finished or not; None for an unknown or malformed id."""
    parsed = parse_member_id(batch_id)
    return RetryBatch.objects.filter(pk=parsed).first() if parsed else None


def retry_batches_running() -> list[RetryBatch]:
    """Every queued or running background batch (one per kind at most), oldest first."""
    return list(RetryBatch.objects.filter(finished_at__isnull=True).order_by("created_at"))


def retry_batch_start(batch_id: str) -> bool:
    """The batch's task begins (or, redelivered, begins again): False when the batch is
    finished or was replaced, and the task has nothing to do."""
    now = timezone.now()
    started = RetryBatch.objects.filter(pk=batch_id, finished_at__isnull=True)
    return bool(started.update(started_at=now, updated_at=now))


def retry_batch_progress(batch_id: str, report: BulkRetryReport) -> None:
    RetryBatch.objects.filter(pk=batch_id).update(**report.as_dict(), updated_at=timezone.now())


def retry_batch_finish(batch_id: str, report: BulkRetryReport | None) -> None:
    """The batch is over, with its final counts (None: it failed, its counts stay as last
    written): the next click of its kind opens a new one."""
    counts = report.as_dict() if report is not None else {}
    RetryBatch.objects.filter(pk=batch_id).update(**counts, finished_at=timezone.now())


def ledger_retry_many(
    *,
    company: Company,
    event_ids: Sequence[int],
    actor: str,
    request_id: str = "",
    progress: Callable[[BulkRetryReport], None] | None = None,
) -> BulkRetryReport:
    """Retry each of `event_ids` in turn (each in its own transaction, as the SCIM endpoint
    would apply them one by one). Rows that cannot be retried any more are counted as
    refused. Each retry's row gets its own request id, `<request_id>#<n>`, findable from the
    web request's, as a /Bulk operation's is. `progress` gets the counts so far every
    BATCH_PROGRESS_EVERY retries."""
    succeeded = failed = refused = 0
    for number, event_id in enumerate(event_ids, start=1):
        if progress is not None and number > 1 and (number - 1) % BATCH_PROGRESS_EVERY == 0:
            progress(BulkRetryReport(succeeded=succeeded, failed=failed, refused=refused))
        own_id = f"{request_id[:58]}#{number}" if request_id else ""
        try:
            result = ledger_retry(
                company=company, event_id=event_id, actor=actor, request_id=own_id
            )
        except (RetryRefused, ProvisioningEvent.DoesNotExist):
            refused += 1
            continue
        if result.succeeded:
            succeeded += 1
        else:
            failed += 1
    return BulkRetryReport(succeeded=succeeded, failed=failed, refused=refused)


def retry_id(value: Any) -> int | None:
    """A ledger row id from a URL or form, or None."""
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


def retry_report_send(company: Company, actor: str, report: BulkRetryReport) -> None:
    """E-mail the person who asked for a background retry what came of it."""
    if "@" not in actor:
        return
    send_mail(
        subject=(
            f"Headcount: retry of {report.tried} failed request{'s' if report.tried != 1 else ''}"
            f" at {company.name}: {report.succeeded} succeeded"
        ),
        message=(
            f"{report.succeeded} succeeded, {report.failed} failed again, {report.refused} "
            "could not be retried (retried already, or what they changed is gone).\n\n"
            "Each retry is in the provisioning log, linked to the failure it replayed:\n"
            f"{settings.PUBLIC_BASE_URL}{company.portal_path}log/\n"
        ),
        from_email=None,
        recipient_list=[actor],
        fail_silently=True,
    )


def with_retry_state(events: QuerySet[ProvisioningEvent]) -> QuerySet[ProvisioningEvent]:
    """`events` with `retry_succeeded` (a retry of the row succeeded) and `created_since` (a
    failed create whose user or group exists now), in the same query."""
    return events.annotate(
        retry_succeeded=_succeeded_retry(),
        created_since=ExpressionWrapper(_created_since(), output_field=BooleanField()),
    )


@dataclass(frozen=True)
class LogEntry:
    """One ledger row for its page: the row, the failure it retried, its retries (newest
    first), why it cannot be retried (None: it can), how many failures of its kind "retry
    all" would replay (`same_kind`), how many there are when BULK_LIMIT cuts them short
    (`kind_total`, else 0), and the background retry of its kind under way."""

    event: ProvisioningEvent
    retry_of: ProvisioningEvent | None
    retries: list[ProvisioningEvent]
    refusal: str | None
    same_kind: int
    kind_total: int = 0
    batch: RetryBatch | None = None


def log_entry(event_id: int) -> LogEntry | None:
    """The ledger row `event_id` with what its page shows, or None."""
    event = (
        with_retry_state(ProvisioningEvent.objects.select_related("retry_of"))
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        return None
    if event.outcome != ProvisioningEvent.Outcome.FAILED:
        return LogEntry(
            event=event,
            retry_of=event.retry_of,
            retries=list(event.retries.order_by("-created_at", "-id")[:50]),
            refusal=retry_refusal(event),
            same_kind=0,
        )
    chosen, read = _failures_chosen(event.status, event.scim_type, BULK_LIMIT)
    # Counted only past the cap: below it, what was read is all there is.
    total = failures_of_kind(event.status, event.scim_type).count() if read == BULK_LIMIT else 0
    return LogEntry(
        event=event,
        retry_of=event.retry_of,
        retries=list(event.retries.order_by("-created_at", "-id")[:50]),
        refusal=retry_refusal(event),
        same_kind=len(chosen),
        kind_total=total,
        batch=retry_batch_running(event.status, event.scim_type),
    )
