"""The company's directory as its identity provider provisions it (tables in the company's
schema): members (SCIM Users), their multi-valued attributes, and the provisioning ledger.

A member is stored twice over, on purpose: `attributes` holds the whole canonical SCIM
resource (what GET returns), and indexed columns hold what is filtered, unique, sorted or
joined. Services keep the two in step; nothing else writes these tables.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Func, Q, Value
from django.db.models.functions import Collate, Lower
from django.utils import timezone

# Members per bucket of `Member.seq` values (bucket = seq // MEMBER_BUCKET_SIZE). The same
# number is written in the triggers of migration 0005; change both or neither.
MEMBER_BUCKET_SIZE = 1024
MEMBER_SEQUENCE = "directory_member_seq"


class NextValue(Func):
    """`nextval('<sequence>')`: the sequence is resolved in the company's own schema."""

    function = "nextval"
    output_field = models.BigIntegerField()


# How much of a department or title the Members page's exact filters compare and index. A
# B-tree entry must fit in about a third of a page (2.7 kB): a stored value may be far longer
# (SCIM strings are capped at 4,096 characters, up to 4 bytes each), and an index of the
# whole value would refuse the write of such a person with an error. 200 characters keep
# every entry small and tell real departments and titles apart.
FILTER_VALUE_CHARS = 200


class MemberDepartment(Func):
    """The member's department (enterprise extension) as text, its first FILTER_VALUE_CHARS
    characters; NULL when absent. The exact-value filter of the Members page compares this
    expression and its index (`member_department`) holds it: the planner matches the two by
    their expression trees."""

    template = (
        "left(%(expressions)s #>> "
        "'{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,department}', "
        f"{FILTER_VALUE_CHARS})"
    )
    output_field = models.TextField()


class MemberTitle(Func):
    """The member's title as text, its first FILTER_VALUE_CHARS characters; NULL when absent.
    Indexed as `member_title`."""

    template = f"left(%(expressions)s ->> 'title', {FILTER_VALUE_CHARS})"
    output_field = models.TextField()


def person_name(*, display_name: str, given_name: str, family_name: str, user_name: str) -> str:
    """How the portal names a person, on every page: the displayName, else the given and
    family names, else the userName (which every user has)."""
    return display_name or " ".join(n for n in (given_name, family_name) if n) or user_name


class Member(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_name = models.CharField(max_length=255)
    # NULL, not "": absent externalIds must not collide under the unique constraint.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    active = models.BooleanField(default=True)
    display_name = models.CharField(max_length=255, blank=True)
    given_name = models.CharField(max_length=255, blank=True)
    family_name = models.CharField(max_length=255, blank=True)
    # Lower-cased primary email (or the first one), for `emails eq` lookups and the portal.
    primary_email = models.CharField(max_length=320, blank=True)
    # Indexed by `member_manager`, only where set: most writes name no manager.
    manager = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
        db_index=False,
    )
    # The manager as the IdP named them (an id or a userName) while no such member exists yet;
    # resolved into `manager` when that member is created.
    manager_ref = models.CharField(max_length=255, blank=True)
    attributes = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # The list order: assigned once, on insert, from a per-company sequence; never changes
    # (a trigger refuses updates). Positions for `startIndex` are found through MemberBucket.
    seq = models.BigIntegerField(db_default=NextValue(Value(MEMBER_SEQUENCE)), editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("user_name"), name="member_user_name_ci_unique"),
            # An expression, so PostgreSQL gets a unique index rather than a UNIQUE constraint:
            # the schema clone renames UNIQUE constraints (to directory_member_seq_key), which
            # would break any later migration naming this one; it keeps index names.
            models.UniqueConstraint(F("seq"), name="member_seq_unique"),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="member_external_id_unique",
            ),
        ]
        indexes = [
            # The portal's Members page order (SCIM lists order by `seq`).
            models.Index(fields=["created_at", "id"], name="member_page_order"),
            models.Index(fields=["active", "seq"], name="member_active_seq"),
            models.Index(Lower("display_name"), name="member_display_name_ci"),
            models.Index(Lower("given_name"), name="member_given_name_ci"),
            models.Index(Lower("family_name"), name="member_family_name_ci"),
            # Prefix search on the portal's Members page: LIKE 'abc%' needs a pattern opclass.
            # The lower(user_name) and lower(display_name) ones are in migration 0002 (SQL):
            # Django renders an opclass on an expression index with a syntax PostgreSQL refuses.
            # Those two stay beside the default-opclass indexes that SCIM's sortBy reads; only
            # the portal reads the email, so one index in byte order (COLLATE "C") serves both
            # its sort and its prefix match (directory.portal_selectors.MEMBER_EMAIL).
            models.Index(Collate("primary_email", "C"), name="member_email"),
            models.Index(fields=["updated_at"], name="member_updated_at"),
            # The Members page's search: a trigram index in migration 0008 (SQL). Its sorts
            # read the indexes above (ties on name or email sorted by seq as they come).
            # Reports waiting for a manager not provisioned yet, by the reference the IdP sent
            # (an id or a userName, case-insensitive both ways): read when that manager
            # arrives, and by `manager.value eq`. Only waiting rows have one.
            models.Index(
                Lower("manager_ref"),
                condition=~Q(manager_ref=""),
                name="member_pending_manager_ci",
            ),
            # A member's reports, `manager.value eq` and the SET NULL of a deleted manager's
            # reports all name a manager: a member without one needs no entry.
            models.Index(
                fields=["manager"], condition=Q(manager__isnull=False), name="member_manager"
            ),
            # The Members page's exact filters. The value leads, so one index also lists the
            # distinct values (a skip scan: one probe per value, not a read of every member);
            # created_at, id follow so a filtered page in the default order can be read in
            # order. Not partial (WHERE … IS NOT NULL): the planner only uses the statistics
            # ANALYZE keeps on a whole-table index's expression, and without them it guesses
            # 0.5% of the members for any value.
            models.Index(
                MemberDepartment("attributes"), F("created_at"), F("id"), name="member_department"
            ),
            models.Index(MemberTitle("attributes"), F("created_at"), F("id"), name="member_title"),
        ]

    def __str__(self) -> str:
        return self.user_name

    @property
    def shown_name(self) -> str:
        """The member's name as the portal shows it (person_name)."""
        return person_name(
            display_name=self.display_name,
            given_name=self.given_name,
            family_name=self.family_name,
            user_name=self.user_name,
        )


class MemberBucket(models.Model):
    """How many members have a `seq` in [bucket * MEMBER_BUCKET_SIZE, (bucket + 1) *
    MEMBER_BUCKET_SIZE): a prefix sum over these rows (≈ 1,000 at 1M members) turns a SCIM
    `startIndex` into a seq range and an offset below MEMBER_BUCKET_SIZE, and their sum is
    the member count. Written only by the triggers on directory_member (migration 0005), in
    the transaction of the insert or delete, so COPY, bulk inserts and cascades keep it true."""

    bucket = models.BigIntegerField(primary_key=True)
    members = models.IntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(members__gte=0), name="memberbucket_not_negative")
        ]

    def __str__(self) -> str:
        return f"bucket {self.bucket}: {self.members}"


class MemberValue(models.Model):
    """One value of a multi-valued attribute (emails, phoneNumbers, addresses …), so filters
    such as `emails[type eq "work" and value co "@acme"]` run as indexed SQL."""

    # Read (and cascaded) through `membervalue_member`, which leads with member_id.
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="values", db_index=False
    )
    attribute = models.CharField(max_length=32)
    item = models.JSONField()
    value_lower = models.CharField(max_length=1024, blank=True)
    type_lower = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["attribute", "value_lower"], name="membervalue_lookup"),
            models.Index(fields=["member", "attribute"], name="membervalue_member"),
        ]

    def __str__(self) -> str:
        return f"{self.attribute}: {self.value_lower}"


class ProvisioningEvent(models.Model):
    """The provisioning ledger: one row per SCIM write, and per failed SCIM request that named
    a resource. Bodies are never stored with secrets."""

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        # A deactivation or deletion the deprovisioning brake held back (directory.brake):
        # nothing changed, the IdP was asked to retry.
        HELD = "held", "Held"

    created_at = models.DateTimeField(auto_now_add=True)
    operation = models.CharField(max_length=16)  # create, replace, patch, delete
    resource_type = models.CharField(max_length=16)  # User, Group
    resource_id = models.UUIDField(null=True, blank=True)
    user_name = models.CharField(max_length=255, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    status = models.PositiveSmallIntegerField()
    scim_type = models.CharField(max_length=32, blank=True)
    detail = models.TextField(blank=True)
    idp = models.CharField(max_length=200, blank=True, help_text="The caller's User-Agent")
    credential = models.CharField(max_length=150, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    # The request body of a failed write, with secrets (password) removed.
    request_body = models.JSONField(null=True, blank=True)
    # A retry from the log (directory/retry.py) is a new row pointing at the failure it
    # replayed; a retention purge of the original leaves the retry standing.
    # Indexed by `provisioning_retry_of`, only where set: almost no row is a retry.
    retry_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="retries",
        db_index=False,
    )
    # Optional values a successful write left out because they had no one meaning:
    # [{"attribute", "sent" (cut short), "advice"}] (scim_protocol.user_input.DroppedValue).
    # NULL when there were none (most rows): nothing stored, and rows written by SQL (COPY
    # in bench_seed, tests) need not name the column.
    warnings = models.JSONField(null=True, blank=True)
    # What Headcount read in the caller's dialect on a successful write: [{"attribute",
    # "sent", "stored"}] ("Replace" as replace, "United States" as US), at most
    # scim_protocol.readings.MAX_READINGS short notes, never a secret's value. NULL when the
    # request was already canonical.
    normalised = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="provisioning_recent"),
            # The log's failures, the brake's held requests: never the succeeded rows (every
            # filter on outcome names another one), so each successful write, the most
            # frequent row, adds no entry here.
            models.Index(
                fields=["outcome", "-created_at"],
                condition=~Q(outcome="succeeded"),
                name="provisioning_not_succeeded",
            ),
            models.Index(fields=["resource_id"], name="provisioning_resource"),
            # "Retry all failures of this kind": failures by status and scimType, newest first.
            models.Index(
                fields=["status", "scim_type", "-created_at"],
                condition=Q(outcome="failed"),
                name="provisioning_failed_kind",
            ),
            models.Index(
                fields=["-created_at", "-id"],
                condition=Q(warnings__isnull=False),
                name="provisioning_warned_recent",
            ),
            # A row's retries, whether a failure was retried successfully, and the SET NULL
            # when the retention purge deletes an original all name one row (retry_of = x).
            models.Index(
                fields=["retry_of"],
                condition=Q(retry_of__isnull=False),
                name="provisioning_retry_of",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.resource_type} {self.outcome}"


class WaitlistEntry(models.Model):
    """A person whose create or reactivation was refused for seats, waiting for one
    (directory.waitlist). Provisioned oldest first when seats free up. `request` is the User
    as the service normalised it, with secrets taken out: never a password."""

    class Operation(models.TextChoices):
        CREATE = "create", "Create"
        REACTIVATE = "reactivate", "Reactivate"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    operation = models.CharField(max_length=16, choices=Operation.choices)
    user_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    # The deactivated member a reactivation is for; gone with it when the IdP deletes it.
    member = models.ForeignKey(
        Member,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="waiting",
        db_index=False,  # waitlist_member
    )
    request = models.JSONField(default=dict)
    idp = models.CharField(max_length=200, blank=True)
    # The place in line: the first refusal; the IdP's retries of the same person keep it.
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    attempts = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(Lower("user_name"), name="waitlist_user_name_ci_unique"),
        ]
        indexes = [
            models.Index(fields=["created_at", "id"], name="waitlist_order"),
            models.Index(fields=["external_id"], name="waitlist_external_id"),
            models.Index(fields=["member"], name="waitlist_member"),
        ]

    def __str__(self) -> str:
        return f"{self.user_name} waiting to {self.operation}"


class Group(models.Model):
    """A group pushed by the identity provider; each group is a role of the company."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    display_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - as Member
    members = models.ManyToManyField(Member, through="Membership", related_name="groups")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("display_name"), name="group_display_name_ci_unique"),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="group_external_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["created_at", "id"], name="group_page_order"),
            models.Index(fields=["updated_at"], name="group_updated_at"),
        ]

    def __str__(self) -> str:
        return self.display_name


class Membership(models.Model):
    """A member holding a group's role."""

    # Each read by the composite index that leads with it: group by membership_unique,
    # member by membership_by_member.
    group = models.ForeignKey(
        Group, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    # `display` as the IdP sent it when adding the member; empty: the user's own name is shown.
    display = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "member"], name="membership_unique"),
        ]
        indexes = [models.Index(fields=["member", "group"], name="membership_by_member")]

    def __str__(self) -> str:
        return f"{self.member_id} in {self.group_id}"


class LedgerExport(models.Model):
    """A CSV of failed provisioning operations, written by a Celery task, downloadable by the
    company's admins until it expires."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"
        # Its file deleted; the row stays a while, so its link can say when it expired.
        EXPIRED = "expired", "Expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.CharField(max_length=254)
    # The selection: {"outcome": "failed", "operation": "", "since": "", "until": ""}.
    criteria = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_written = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"export {self.id} ({self.status})"

    @property
    def waiting_for_worker(self) -> bool:
        """Queued for longer than WORKER_WAIT_WARN_SECONDS: no worker has started it (all
        busy, stopped, or not consuming the queue). Its age is the evidence, so saying so
        costs no worker ping."""
        waited = timezone.now() - self.created_at
        return self.status == self.Status.QUEUED and waited > dt.timedelta(
            seconds=settings.WORKER_WAIT_WARN_SECONDS
        )

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(100 * self.rows_written / self.rows_total))


# An unfinished retry batch that has written nothing for this long lost its task (the broker's
# data was lost; a killed worker's message comes back within CELERY_VISIBILITY_TIMEOUT, 15
# min): a new click replaces it, its message, should it turn up, finds it finished and stops,
# and the portal shows it as stopped rather than running for ever.
BATCH_ABANDONED_AFTER = dt.timedelta(minutes=20)


class RetryBatch(models.Model):
    """A "retry all failures of this kind" left to a Celery task (directory/retry.py). At
    most one unfinished per kind, by a constraint: a second click while one is queued or
    running is told so instead of replaying the same failures again. Its counts are the
    progress the portal shows."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The kind: the failures' HTTP status and scimType.
    http_status = models.PositiveSmallIntegerField()
    scim_type = models.CharField(max_length=32, blank=True)
    requested_by = models.CharField(max_length=254)
    total = models.PositiveIntegerField()
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["http_status", "scim_type"],
                condition=Q(finished_at__isnull=True),
                name="retry_batch_one_unfinished_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"retry batch {self.id} ({self.http_status} {self.scim_type})"

    @property
    def tried(self) -> int:
        return self.succeeded + self.failed + self.refused

    @property
    def ended(self) -> bool:
        """Finished, or started and then silent past BATCH_ABANDONED_AFTER (its task lost)."""
        if self.finished_at is not None:
            return True
        silent = timezone.now() - self.updated_at
        return self.started_at is not None and silent > BATCH_ABANDONED_AFTER

    @property
    def state(self) -> str:
        """queued, running or done; done also when its task stopped early (`tried` < `total`)."""
        if self.ended:
            return "done"
        return "running" if self.started_at is not None else "queued"

    @property
    def waiting_for_worker(self) -> bool:
        """Queued for longer than WORKER_WAIT_WARN_SECONDS and not started (as
        LedgerExport.waiting_for_worker)."""
        waited = timezone.now() - self.created_at
        return self.started_at is None and waited > dt.timedelta(
            seconds=settings.WORKER_WAIT_WARN_SECONDS
        )


class RequestTally(models.Model):
    """SCIM requests that were refused or failed, coalesced: one row per (minute, caller, cause,
    status) with a count, so a flood of bad requests costs one row a minute, not one per request.

    `caller` is the credential's id when one is known (revoked and expired ones included), else
    what the caller presented that is safe to keep: a token's public display prefix or a Basic
    username, never a secret. Written with INSERT … ON CONFLICT (directory/traffic.py)."""

    class Cause(models.TextChoices):
        NO_CREDENTIAL = "no_credential", "No credential sent"
        REJECTED = "rejected", "Credentials rejected"
        REVOKED = "revoked", "Revoked credential"
        EXPIRED = "expired", "Expired credential"
        SCIM_OFF = "scim_off", "SCIM switched off"
        RATE_LIMITED = "rate_limited", "Rate limited"
        FAILED = "failed", "Request failed"

    minute = models.DateTimeField()
    caller = models.CharField(max_length=150)
    cause = models.CharField(max_length=16, choices=Cause.choices)
    status = models.PositiveSmallIntegerField()
    credential_id = models.UUIDField(null=True, blank=True)
    count = models.PositiveIntegerField(default=1)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    # Of the latest request in the row: enough to find it in the caller's own logs.
    method = models.CharField(max_length=8, blank=True)
    path = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    idp = models.CharField(max_length=200, blank=True, help_text="The caller's User-Agent")
    detail = models.TextField(blank=True)
    # Which of Headcount's own refusals it was (scim_protocol.errors.ScimError.code:
    # seat_limit, read_only, scim_off, suspended …); empty for an error of the request's own,
    # and in rows written before it was kept.
    error_code = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["minute", "caller", "cause", "status"], name="requesttally_one_per_minute"
            )
        ]
        indexes = [
            models.Index(fields=["-last_at", "-id"], name="requesttally_recent"),
            models.Index(fields=["credential_id", "-last_at"], name="requesttally_credential"),
        ]

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M} {self.caller} {self.cause} x{self.count}"
