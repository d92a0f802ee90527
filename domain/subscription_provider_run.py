"""What a subscription its provider runs is asked to do (issue 18): handed to the
provider, a request made of it, its refusal to create, the provider's id, and the items
and period its webhooks report. ``Subscription`` (``domain.subscriptions``) extends it.

These are the guards only. The events they record (``HandedToProvider``,
``ProviderAsked``, ``ProviderLinked``, ``PeriodMirrored``, ``StatusChanged``) stay
on ``Subscription``: the ``eventsourcing`` library defines an aggregate's event classes
from the ``@event`` methods in its own class body, and an aggregate base class's events
are redefined for each subclass under the same explicit topic, which the library refuses.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain.errors import InvalidTransition
from domain.subscription_state import SubscriptionState
from domain.subscription_states import INCOMPLETE, Item, check_items


class SubscriptionProviderRun(SubscriptionState):
    """The provider-run commands of a subscription (``Subscription`` records them)."""

    # Who runs it (domain/subscription_runners.py): Tally, or the provider named here,
    # whose own id for it is ``provider_ref`` once the provider answered. Class defaults,
    # so subscriptions recorded before providers could run them load as Tally's.
    run_by: str = "tally"
    provider: str = ""
    provider_ref: str = ""
    # How many requests Tally made of the provider about it (each one's call id).
    provider_requests: int = 0
    # The request that asked the provider to cancel it (its number, and whether at the
    # period end) until the provider's webhook shows a cancel, or an undo is asked: a
    # second cancel meanwhile is answered from it, never sent again (0: none pending).
    cancel_asked: int = 0
    cancel_asked_at_period_end: bool = False

    if TYPE_CHECKING:  # ``Subscription``'s, which records the events

        def _to(self, trigger: str) -> str: ...
        def _status_changed(self, status: str, trigger: str) -> None: ...
        def _handed_to_provider(self, provider: str) -> None: ...
        def _provider_asked(self, number: int, action: str) -> None: ...
        def _provider_linked(self, provider_ref: str) -> None: ...
        def _period_mirrored(self, items: list[Item], anchor: datetime) -> None: ...

    def hand_to_provider(self, provider: str) -> None:
        """The provider runs it from now on: Tally neither renews nor bills it (its
        ``next_due_at`` is None) and mirrors what the provider's webhooks report."""
        if self.status != INCOMPLETE or self.run_by != "tally":
            raise InvalidTransition(
                f"only a new subscription can be handed to a provider, not one {self.status}",
                state=self.status,
                trigger="hand_to_provider",
            )
        self._handed_to_provider(provider=provider)

    def _cancel_answered(self) -> None:
        """A webhook or an undo answered the cancel asked (called by the mutators that show
        it). Only a pending cancel is cleared: a subscription that never asked one keeps
        the state it was stored with before provider-run cancels existed, so its
        read-model row written then still equals its replay."""
        if self.cancel_asked:
            self.cancel_asked = 0

    def ask_provider(self, action: str) -> int:
        """Record that Tally asks the provider for ``action`` (change_items, cancel,
        cancel_at_period_end, undo_cancel); the request's number names its call."""
        assert self.run_by == "provider", "only a provider-run subscription asks"
        self._provider_asked(number=self.provider_requests + 1, action=action)
        return self.provider_requests

    def check_cancel_not_asked(self, *, at_period_end: bool, asked_failed: bool) -> bool:
        """Whether a cancel of this kind is asked already and still on its way (True:
        answer that request, ask nothing). ``asked_failed``: the provider refused that
        request for good, or accepted it longer ago than the bounded wait
        (``MAX_PROVIDER_CANCEL_WAIT_S``) with no webhook since, so it is asked again. A
        cancel of the other kind meanwhile is refused: the provider has not yet said what
        became of the first."""
        if not self.cancel_asked or asked_failed:
            return False
        if self.cancel_asked_at_period_end != at_period_end:
            kind = "at its period end" if self.cancel_asked_at_period_end else "now"
            raise InvalidTransition(
                f"a cancel {kind} was asked of {self.provider} (request "
                f"{self.cancel_asked}) and it has not answered yet; ask again once its "
                "webhook arrives (or once the bounded wait has passed)",
                state=self.status,
                trigger="cancel",
            )
        return True

    def provider_refused(self) -> bool:
        """The provider would not create it (the create call failed for good): it ends
        as an incomplete subscription that expired, as one whose first payment never came.
        False if the provider's webhooks had started it after all."""
        if self.status != INCOMPLETE or self.provider_ref:
            return False
        self._status_changed(status=self._to("expire"), trigger="expire")
        return True

    def link_provider(self, provider_ref: str) -> bool:
        """The provider's id for it (from the create call's answer or a webhook); the
        first one wins. False if it was linked already."""
        if self.provider_ref or not provider_ref:
            return False
        self._provider_linked(provider_ref=provider_ref)
        return True

    def mirror_period(self, items: list[Item], period_start: datetime) -> bool:
        """The provider's items and current period start (a plan change, a renewal);
        False if both are as mirrored already. The period is the provider's: Tally's
        schedule restarts at its start, on the same interval."""
        checked = check_items(items)
        if checked == self.items and period_start == self.current_period[0]:
            return False
        self._period_mirrored(items=checked, anchor=period_start)
        return True
