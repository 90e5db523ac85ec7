"""Reads about credentials. Lookups run in the current schema: a credential of another
company is simply not there."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone
from oauth2_provider.models import AbstractApplication, get_application_model

from infra.model_rows import ModelRows
from infra.prepared_query import PreparedQuery
from tokens import secrets
from tokens.models import Credential, CredentialEvent, OAuthGrant, OAuthToken

# Every SCIM request with a token runs this; compiled once (infra/prepared_query.py).
_TOKEN_BY_HASH: PreparedQuery[Credential] = PreparedQuery(
    lambda secret_hash: (
        Credential.objects.not_revoked()
        .filter(kind=Credential.Kind.TOKEN, secret_hash=secret_hash)
        .order_by("pk")[:1]
    ),
    samples=("<secret hash>",),
)


# (schema, column) → the statement CredentialRead.sql gives, built once: routing joins it to
# its own by the statement's text (tenants.middleware). Bounded as routing's caches are.
_SQL: dict[tuple[str, str], str] = {}
MAX_KEPT_STATEMENTS = 4096


class CredentialRead:
    """The credential a presented Bearer token or Basic username names, revoked or not, read
    by the company routing's own statement (tenants.middleware.RouteRead): the company and
    the credential in one round trip. Built from the request before routing, so it cannot
    know the schema: `sql` names the tables of the schema routing gives it, and routing hands
    over the row only when that schema is the routed company's. Until then (`done` false)
    the selectors below look the credential up themselves, as before.

    The same statement runs for a credential that exists and one that does not (one lookup
    by a unique index, in the company's schema); a secret not even shaped like ours gets no
    read at all, as it gets no query from the selectors."""

    _rows: ModelRows | None = None
    _select = ""

    def __init__(self, kind: str, column: str, key: str, presented: tuple[str, ...]) -> None:
        self.column = column
        self.params = (kind, key)
        # What the caller presented, so a selector never uses the row of another secret.
        self.presented = presented
        self.width = self.rows().width
        self.done = False
        self._row: tuple[Any, ...] | None = None
        self._found: Credential | None = None

    @classmethod
    def rows(cls) -> ModelRows:
        if cls._rows is None:
            cls._rows = ModelRows(Credential)
            cls._select = cls._rows.columns("credential")
        return cls._rows

    def sql(self, schema: str) -> str:
        key = (schema, self.column)
        sql = _SQL.get(key)
        if sql is None:
            if len(_SQL) >= MAX_KEPT_STATEMENTS:
                _SQL.clear()
            table = f'{schema}."{Credential._meta.db_table}"'
            sql = _SQL[key] = (
                f"SELECT {self._select} FROM {table} credential "  # noqa: S608
                f'WHERE credential.kind = %s AND credential."{self.column}" = %s LIMIT 1'
            )
        return sql

    def receive(self, row: tuple[Any, ...] | None) -> None:
        self.done = True
        self._row = row

    @property
    def found(self) -> Credential | None:
        """The credential read, revoked or not (None if none). Built when first asked for:
        routing reads it for every SCIM path, some of which never authenticate."""
        if self._found is None and self._row is not None:
            self._found = self.rows().instance(self._row)
        return self._found

    def answers(self, *presented: str) -> bool:
        """Whether this read ran, for `presented`: then `found` is the credential (revoked or
        not), or None when the company has none."""
        return self.done and presented == self.presented


def _not_revoked(credential: Credential | None) -> Credential | None:
    return credential if credential is not None and credential.revoked_at is None else None


def bearer_read(token: str) -> CredentialRead | None:
    """What routing should read for this Bearer token; None for one not even shaped like
    ours. Its checksum is not checked: the read adds no round trip (routing makes it with
    the company's), and a token that fails the checksum matches no stored hash, since every
    token issued passes it."""
    if not secrets.has_shape(token, secrets.BEARER_PREFIX):
        return None
    return CredentialRead(
        Credential.Kind.TOKEN, "secret_hash", secrets.hash_secret(token), (token,)
    )


def basic_read(username: str, secret: str) -> CredentialRead | None:
    """What routing should read for this Basic pair; None when the secret is malformed."""
    if not secrets.is_well_formed(secret, secrets.BASIC_SECRET_PREFIX):
        return None
    return CredentialRead(Credential.Kind.BASIC, "username", username, (username, secret))


def credential_for_bearer(token: str, read: CredentialRead | None = None) -> Credential | None:
    """The (not revoked) credential this Bearer token belongs to, or None. A malformed token
    costs no database query, nor does one `read` with the route."""
    if read is not None and read.answers(token):
        return _not_revoked(read.found)  # routing read it (bearer_read)
    if not secrets.is_well_formed(token, secrets.BEARER_PREFIX):
        return None
    found = _TOKEN_BY_HASH(secrets.hash_secret(token))
    return found[0] if found else None


def credential_refused(
    scheme: str, value: str, username: str = "", read: CredentialRead | None = None
) -> Credential | None:
    """Which credential of this company a refused Bearer token or Basic pair was, revoked or
    not, for the record of the refusal (directory/traffic.py); None when it is none of
    ours. Never changes the answer the caller gets. For a Basic pair the secret must match,
    so a guessed username names nothing. No query when `read` with the route."""
    if scheme == "bearer" and secrets.is_well_formed(value, secrets.BEARER_PREFIX):
        if read is not None and read.answers(value):
            return read.found
        return Credential.objects.filter(
            kind=Credential.Kind.TOKEN, secret_hash=secrets.hash_secret(value)
        ).first()
    if scheme == "basic" and secrets.is_well_formed(value, secrets.BASIC_SECRET_PREFIX):
        if read is not None and read.answers(username, value):
            credential = read.found
        else:
            credential = Credential.objects.filter(
                kind=Credential.Kind.BASIC, username=username
            ).first()
        if (
            credential is not None
            and credential.secret_hash is not None
            and secrets.hashes_match(value, credential.secret_hash)
        ):
            return credential
    return None


def credential_for_basic(
    username: str, secret: str, read: CredentialRead | None = None
) -> Credential | None:
    """The (not revoked) Basic credential with this username and secret, or None. No query
    when `read` with the route."""
    if not secrets.is_well_formed(secret, secrets.BASIC_SECRET_PREFIX):
        return None
    if read is not None and read.answers(username, secret):
        credential = _not_revoked(read.found)
    else:
        credential = (
            Credential.objects.not_revoked()
            .filter(kind=Credential.Kind.BASIC, username=username)
            .first()
        )
    if credential is None or credential.secret_hash is None:
        return None
    if not secrets.hashes_match(secret, credential.secret_hash):
        return None
    return credential


def _live_token(kind: str, prefix: str, token: str, **filters: Any) -> OAuthToken | None:
    """The not-revoked OAuth token of `kind`, with its live connection: one indexed lookup. A
    malformed token costs no query."""
    if not secrets.is_well_formed(token, prefix):
        return None
    return (
        OAuthToken.objects.select_related("credential")
        .filter(
            kind=kind,
            token_hash=secrets.hash_secret(token),
            revoked_at__isnull=True,
            credential__revoked_at__isnull=True,
            **filters,
        )
        .first()
    )


def oauth_access_token(token: str) -> OAuthToken | None:
    """The live (not revoked) OAuth access token, with its connection. Expiry is for the
    caller to tell apart."""
    return _live_token(OAuthToken.Kind.ACCESS, secrets.OAUTH_ACCESS_PREFIX, token)


def oauth_refresh_token(token: str, client_id: str) -> OAuthToken | None:
    """The usable refresh token issued to `client_id`, with its connection, or None."""
    return _live_token(
        OAuthToken.Kind.REFRESH,
        secrets.OAUTH_REFRESH_PREFIX,
        token,
        expires_at__gt=timezone.now(),
        credential__oauth_client_id=client_id,
    )


def oauth_token_of_client(token: str, client_id: str) -> OAuthToken | None:
    """An access or refresh token (revoked or not) issued to `client_id`, for RFC 7009."""
    if not (
        secrets.is_well_formed(token, secrets.OAUTH_ACCESS_PREFIX)
        or secrets.is_well_formed(token, secrets.OAUTH_REFRESH_PREFIX)
    ):
        return None
    return (
        OAuthToken.objects.filter(
            token_hash=secrets.hash_secret(token), credential__oauth_client_id=client_id
        )
        .select_related("credential")
        .first()
    )


def oauth_grant_for_code(code: str, client_id: str) -> OAuthGrant | None:
    """The authorization code issued to `client_id` (spent or not), or None."""
    return OAuthGrant.objects.filter(
        code_hash=secrets.hash_secret(code), client_id=client_id
    ).first()


def oauth_connections() -> list[Credential]:
    """OAuth connections for the Access rights screen: live ones first, newest first."""
    return list(
        Credential.objects.filter(kind=Credential.Kind.OAUTH).order_by(
            F("revoked_at").desc(nulls_first=True), "-created_at"
        )[:100]
    )


def credentials_recent(limit: int = 200) -> list[Credential]:
    """The newest `limit` credentials of every kind, revoked ones included."""
    return list(Credential.objects.filter(internal=False).order_by("-created_at")[:limit])


def _tokens_holding_names() -> Any:
    # The tokens whose names are taken: as the uniqueness constraint counts them (not revoked,
    # not being rotated out), compared case-insensitively as it compares.
    return Credential.objects.filter(
        kind=Credential.Kind.TOKEN, revoked_at__isnull=True, retires_at__isnull=True
    )


def token_name_holders(name: str) -> list[Credential]:
    """The tokens holding `name`, or a name that starts with it (case-insensitively, as the
    uniqueness constraint compares): what `token_name_free` needs, in one query."""
    return list(_tokens_holding_names().filter(name__istartswith=name).order_by("created_at"))


def token_name_free(name: str, holders: list[Credential]) -> str:
    """`name` if none of `holders` (token_name_holders) holds it, else the first of
    "`name` 2", "`name` 3" … that none holds."""
    taken = {holder.name.lower() for holder in holders}
    if name.lower() not in taken:
        return name
    number = 2
    while f"{name} {number}".lower() in taken:
        number += 1
    return f"{name} {number}"


def credential_events_recent(limit: int) -> list[CredentialEvent]:
    """The newest `limit` entries of the credentials' audit trail, each with its credential."""
    return list(CredentialEvent.objects.select_related("credential")[:limit])


def credential_get(credential_id: str) -> Credential | None:
    """The credential with this id (revoked or not); None for an unknown or malformed id."""
    try:
        return Credential.objects.filter(pk=credential_id).first()
    except ValidationError:  # not a UUID
        return None


def oauth_client(client_id: str) -> AbstractApplication | None:
    """The OAuth client support registered under `client_id` (django-oauth-toolkit's
    Application, in `public`), or None. Whether it serves this company is
    tokens.oauth.client_serves."""
    return get_application_model().objects.filter(client_id=client_id).first()


def credentials_for_status(also: list[str], limit: int = 50) -> list[Credential]:
    """The credentials the connection status is about, oldest first: those not revoked, and
    the ids in `also` (revoked ones that were presented lately). Each carries
    `first_used_at`, from its first-use audit row: one query."""
    first_use = CredentialEvent.objects.filter(
        credential=OuterRef("pk"), action=CredentialEvent.Action.FIRST_USED
    ).values("created_at")[:1]
    return list(
        Credential.objects.filter(Q(revoked_at__isnull=True) | Q(pk__in=also), internal=False)
        .annotate(first_used_at=Subquery(first_use))
        .order_by("created_at", "pk")[:limit]
    )
