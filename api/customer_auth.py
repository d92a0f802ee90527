"""Customer authentication (issue 14): the principal of ``/v1/me``.

A customer calls with ``Authorization: Bearer <token>``, one of:

- a customer session token, ``tcs_<session id>_<secret>``, minted by the project's
  backend (``POST /v1/customer_sessions``);
- a JWT from the project's identity provider (``PUT /v1/identity_provider``), with the
  header ``Tally-Project: <project id>`` saying whose identity provider checks it. The
  header only chooses the checks: the token must pass them all, so naming another
  project gains nothing.

Only ``/v1/me`` routes take this dependency, and the project-key dependency
(``api.auth.require_caller``) accepts only ``tly_`` keys, so a customer token reaches
nothing else (401, exactly as a bad key), and a project key reaches no ``/v1/me`` route.

Sessions and identity providers are read from the event log on every request (the
aggregates, by primary key: no cache to go stale across server workers), so a revoked
session or a changed configuration applies from the next request on. Every failure
answers the same 401 ``unauthenticated``; tokens are never logged.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapters.customer_tokens import JwksCache, verify_jwt
from api.auth import Caller, get_tally
from api.errors import ReadModelBehind
from api.rate_limits import admit, admit_customer, failures_counted
from api.tally import Tally
from commands import messages as m
from commands.bus import Context
from commands.identity import hash_session_token, split_session_token
from domain.customer_sessions import ACTIVE, CustomerSession
from domain.customers import Customer
from domain.errors import ConcurrentUpdate, Unauthenticated
from domain.identity_providers import REGISTER, SHARED_SECRET, IdentityProvider
from domain.limits import (
    MAX_CUSTOMER_TOKEN_CHARS,
    MAX_JWT_LIFETIME_S,
    MAX_REF_CHARS,
    check_text,
)
from domain.projects import Project
from domain.rate_limits import default_policy

A = TypeVar("A")

SESSION = "customer_session"
IDENTITY_PROVIDER = "identity_provider"
REGISTRATION = "registration"

REFUSAL = "a valid customer token is required (Authorization: Bearer <token>)"

customer_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="CustomerToken",
    description="A customer session token (`tcs_<id>_<secret>`) or a JWT from the "
    "project's identity provider (with the header `Tally-Project: <project id>`). At "
    f"most {MAX_CUSTOMER_TOKEN_CHARS} characters; a JWT must carry `iat` and `exp` at "
    f"most {MAX_JWT_LIFETIME_S} s apart.",
)

# Text, not a UUID parameter: a header that names no project is one more way for a JWT to
# fail authentication (401), not a malformed request (422).
ProjectHeader = Annotated[
    str | None,
    Header(
        alias="Tally-Project",
        max_length=100,
        description="The project whose identity provider checks a JWT (not needed with a "
        "customer session token).",
    ),
]


@dataclass(frozen=True)
class CustomerCaller:
    """An authenticated customer: the project, the customer, and how it was shown.

    ``subject`` is the session id (``via`` customer_session) or the customer's external
    id as the identity provider's token named it (``via`` identity_provider)."""

    project_id: UUID
    customer_id: UUID
    mode: str
    via: str
    subject: str

    @property
    def actor(self) -> str:
        """The actor recorded on the events the customer's commands record."""
        return f"customer:{self.customer_id}"

    @property
    def rate_key(self) -> str:
        """What rate limits count a customer's requests by (one bucket per customer,
        whichever token it shows)."""
        return f"customer:{self.project_id}:{self.customer_id}"

    def idempotency_key(self, key: str | None) -> str | None:
        # A customer's keys live apart from the project's and from other customers':
        # the same key sent by two callers can never replay one's answer to the other.
        return None if key is None else f"customer:{self.customer_id}:{key}"

    def context(self, key: str | None = None) -> Context:
        return Context(self.project_id, self.actor, self.idempotency_key(key))

    def acting(self) -> Caller:
        """The project-scoped caller the shared route helpers take (queries scoped to
        the project, commands recorded with the customer as actor and its keys apart).
        Only /v1/me routes make one, and they pass the customer id from here."""
        return _ActingCustomer(self.project_id, self.actor, self.mode, customer=self)


@dataclass(frozen=True)
class _ActingCustomer(Caller):
    customer: CustomerCaller | None = None

    def context(self, idempotency_key: str | None = None) -> Context:
        assert self.customer is not None
        return self.customer.context(idempotency_key)


def jwks_cache(request: Request) -> JwksCache:
    cache: JwksCache | None = getattr(request.app.state, "jwks", None)
    if cache is None:
        cache = request.app.state.jwks = JwksCache()
    return cache


Authenticated = tuple[CustomerCaller, m.RegisterCustomer | None]


def authenticate(
    tally: Tally, token: str, project_id: UUID | None, jwks: JwksCache
) -> Authenticated:
    """The customer ``token`` stands for, or ``Unauthenticated``; with the command that
    registers it when its identity provider registers customers on first use and this
    one is not registered yet (``require_customer`` rate-limits, then runs it)."""
    if len(token) > MAX_CUSTOMER_TOKEN_CHARS:
        raise Unauthenticated(REFUSAL)
    if token.startswith("tcs_"):
        return _session_caller(tally, token), None
    if project_id is None:
        raise Unauthenticated(REFUSAL, hint="a JWT needs the Tally-Project header")
    return _jwt_caller(tally, token, project_id, jwks)


def _session_caller(tally: Tally, token: str) -> CustomerCaller:
    found = split_session_token(token)
    session: CustomerSession | None = None
    if found is not None and _is_session(tally, UUID(found)):
        session = load_aggregate(tally, UUID(found), CustomerSession)
    digest = hash_session_token(token)
    if session is None:
        hmac.compare_digest(digest, "0" * 64)  # as long as a wrong secret takes
        raise Unauthenticated(REFUSAL)
    if not hmac.compare_digest(digest, session.token_hash):
        raise Unauthenticated(REFUSAL)
    if session.status(tally.clock.now()) != ACTIVE:
        raise Unauthenticated(REFUSAL)
    return CustomerCaller(
        project_id=session.project_id,
        customer_id=session.customer_id,
        mode=_mode(tally, session.project_id),
        via=SESSION,
        subject=str(session.id),
    )


def _jwt_caller(tally: Tally, token: str, project_id: UUID, jwks: JwksCache) -> Authenticated:
    provider = load_aggregate(tally, IdentityProvider.create_id(project_id), IdentityProvider)
    if provider is None or not provider.configured or provider.project_id != project_id:
        raise Unauthenticated(REFUSAL)
    settings = provider.settings
    secret = None
    if settings["kind"] == SHARED_SECRET and provider.sealed_secret is not None:
        box = tally.providers.secrets
        if box is None:
            raise Unauthenticated(REFUSAL)
        secret = box.open(provider.sealed_secret)
    mode = _mode(tally, project_id)
    claims = verify_jwt(
        token,
        settings,
        now=tally.clock.now(),
        shared_secret=secret,
        jwks=jwks,
        owner=str(project_id),
        allow_loopback=mode == "test",
    )
    external_id = _external_id(claims.get(settings["customer_claim"]))
    customer_id = Customer.create_id(project_id, external_id)
    registration = None
    if load_aggregate(tally, customer_id, Customer) is None:
        if settings["unknown_customer"] != REGISTER:
            raise Unauthenticated(REFUSAL)
        currency = settings["register_currency"]
        registration = m.RegisterCustomer(external_id=external_id, currency=currency)
    caller = CustomerCaller(
        project_id=project_id,
        customer_id=customer_id,
        mode=mode,
        via=IDENTITY_PROVIDER,
        subject=external_id,
    )
    return caller, registration


def register(tally: Tally, project_id: UUID, command: m.RegisterCustomer) -> None:
    """Register a customer on its first request, then wait (bounded) for the read models
    to hold it, since that request reads it back. Registering is register-or-retrieve,
    and a collision with a concurrent first request of the same customer (which the bus
    retries, then gives up on as ``concurrent_update``) means it is registered: success,
    not 409 (security review finding 13)."""
    try:
        outcome = tally.execute(command, Context(project_id, "identity_provider"))
    except ConcurrentUpdate:
        registered = Customer.create_id(project_id, command.external_id)
        if load_aggregate(tally, registered, Customer) is None:
            raise
        _caught_up(tally, None)
        return
    _caught_up(tally, outcome.position)


def _caught_up(tally: Tally, position: int | None) -> None:
    from projections.runner import wait_for_position

    if position is None:
        position = tally.store.recorder.max_notification_id()
    timeout_s = tally.settings.read_wait_max_ms / 1000
    if position and not wait_for_position(tally.views, tally.schema, position, timeout_s):
        raise ReadModelBehind(
            f"the read models have not reached position {position}; retry shortly",
            headers={"Retry-After": "1"},
            position=position,
        )


def _external_id(value: Any) -> str:
    """The claim's value if it can be a customer's external id, else 401."""
    if not isinstance(value, str):
        raise Unauthenticated(REFUSAL)
    try:
        return check_text(value, "external_id", MAX_REF_CHARS, min_chars=1)
    except Exception:
        raise Unauthenticated(REFUSAL) from None


def load_aggregate(tally: Tally, aggregate_id: UUID, cls: type[A]) -> A | None:
    """The aggregate as the event log holds it now (no cache), if it is a ``cls``: for
    checks that must see the current owner or state, not a read model behind it."""
    try:
        aggregate: Any = tally.store.repository.get(aggregate_id)
    except AggregateNotFoundError:
        return None
    return aggregate if isinstance(aggregate, cls) else None


def _is_session(tally: Tally, aggregate_id: UUID) -> bool:
    """Whether the log's first event of ``aggregate_id`` made a customer session. The id
    comes from an unauthenticated token, so its type is checked on one stored event
    before anything is loaded: a token naming some other aggregate (an account with a
    long history, say) must not make Tally load and fold all of it (security review
    finding 7)."""
    first = tally.store.recorder.select_events(aggregate_id, limit=1)
    return bool(first) and first[0].topic.startswith(CustomerSession.TOPIC + ".")


def _mode(tally: Tally, project_id: UUID) -> str:
    project = load_aggregate(tally, project_id, Project)
    if project is None:
        raise Unauthenticated(REFUSAL)
    return str(project.mode)


async def require_customer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(customer_bearer)],
    project_id: ProjectHeader = None,
) -> CustomerCaller:
    """FastAPI dependency of every /v1/me route: the authenticated customer, or 401. A
    project key is refused here as any other wrong token is."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated(REFUSAL)
    token = credentials.credentials.strip()
    if token.startswith("tly_"):
        raise Unauthenticated(REFUSAL)
    tally = get_tally(request)
    project = _project_id(project_id)
    async with failures_counted(request):  # review finding 7
        caller, registration = await run_in_threadpool(
            authenticate, tally, token, project, jwks_cache(request)
        )
    if registration is not None:
        # Each first use writes a customer: counted against the project's registration
        # bucket first, so a stream of new subjects cannot write customers without end
        # (security review finding 5; its customer bucket is not there yet).
        await admit_registration(request, caller.project_id)
        await run_in_threadpool(register, tally, caller.project_id, registration)
    # Its project's customer rate limit (issue 14, api/rate_limits.py), before the route.
    await admit_customer(request, caller.project_id, caller.rate_key)
    request.state.customer = caller
    return caller


async def admit_registration(request: Request, project_id: UUID) -> None:
    """Count a registration on first use against its project's ``registration`` bucket
    (429 ``rate_limited`` when empty): the default policy of
    ``domain.limits.DEFAULT_RATE_LIMITS``, one bucket per project."""
    policy = default_policy(REGISTRATION)
    await admit(request, REGISTRATION, f"registration:{project_id}", policy)


def _project_id(header: str | None) -> UUID | None:
    if header is None:
        return None
    try:
        return UUID(header.strip())
    except ValueError:
        raise Unauthenticated(REFUSAL) from None


CustomerDep = Annotated[CustomerCaller, Depends(require_customer)]
