"""Rate-limit policies a project may set (issue 14): how many requests a bucket admits per
moving window. Plain values, so that events and read models hold them as JSON.

A project's ``rate_limits`` maps a bucket kind to ``{"requests": n, "window_s": s}``; a
kind it does not name takes ``domain.limits.DEFAULT_RATE_LIMITS``. Where the buckets are
counted (Redis or the process) is the API's business (``api/rate_limits.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.errors import ValidationFailed
from domain.limits import DEFAULT_RATE_LIMITS, MAX_RATE_REQUESTS, MAX_RATE_WINDOW_S

# The kinds a project may set: its API keys, its customers' tokens, and each inbound
# webhook route (provider) of the project. Operator keys are not a project's.
PROJECT_KINDS = ("api_key", "customer", "webhook")


@dataclass(frozen=True)
class RatePolicy:
    requests: int
    window_s: int

    def as_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "window_s": self.window_s}


# Made once: every request without a project's own policy asks for one of these.
_DEFAULTS = {kind: RatePolicy(*value) for kind, value in DEFAULT_RATE_LIMITS.items()}


def default_policy(kind: str) -> RatePolicy:
    return _DEFAULTS[kind]


def policy_for(kind: str, overrides: Mapping[str, Mapping[str, int]] | None) -> RatePolicy:
    """The policy of ``kind`` for a project with ``overrides`` (None: defaults only)."""
    chosen = None if overrides is None else overrides.get(kind)
    if chosen is None:
        return _DEFAULTS[kind]
    return RatePolicy(int(chosen["requests"]), int(chosen["window_s"]))


def check_rate_limits(limits: Mapping[str, Mapping[str, int] | None]) -> dict[str, dict[str, int]]:
    """The overrides to store: each named kind checked, a kind given None dropped (it
    goes back to its default)."""
    checked: dict[str, dict[str, int]] = {}
    for kind, value in limits.items():
        if kind not in PROJECT_KINDS:
            raise ValidationFailed(
                f"rate limit kind must be one of {', '.join(PROJECT_KINDS)}", field=kind
            )
        if value is None:
            continue
        requests, window_s = value.get("requests"), value.get("window_s")
        if not isinstance(requests, int) or not 1 <= requests <= MAX_RATE_REQUESTS:
            raise ValidationFailed(
                f"{kind}.requests must be an integer from 1 to {MAX_RATE_REQUESTS}", field=kind
            )
        if not isinstance(window_s, int) or not 1 <= window_s <= MAX_RATE_WINDOW_S:
            raise ValidationFailed(
                f"{kind}.window_s must be an integer from 1 to {MAX_RATE_WINDOW_S}", field=kind
            )
        checked[kind] = {"requests": requests, "window_s": window_s}
    return checked
