"""The domain event classes the read models handle, by name.

``@event`` makes these classes at run time, so the type checker cannot see them as
attributes of their aggregates; naming them once here (typed ``Any``) keeps the
projections free of ``type: ignore`` and gives one list of what the read side reads.
"""

from __future__ import annotations

from typing import Any

from domain.accounts import Account
from domain.projects import Project
from domain.transactions import Transaction

_account: Any = Account
_transaction: Any = Transaction
_project: Any = Project

AccountOpened: Any = _account.Opened
Deposited: Any = _account.Deposited
Withdrawn: Any = _account.Withdrawn
TransferredOut: Any = _account.TransferredOut
TransferredIn: Any = _account.TransferredIn
ReversalPosted: Any = _account.ReversalPosted
HoldPlaced: Any = _account.HoldPlaced
HoldCaptured: Any = _account.HoldCaptured
HoldVoided: Any = _account.HoldVoided
HoldExpired: Any = _account.HoldExpired
Frozen: Any = _account.Frozen
Unfrozen: Any = _account.Unfrozen
Closed: Any = _account.Closed

TransactionInitiated: Any = _transaction.Initiated
TransactionCompleted: Any = _transaction.Completed
TransactionFailed: Any = _transaction.Failed
TransactionReversed: Any = _transaction.Reversed

ProjectRegistered: Any = _project.Registered
KeyIssued: Any = _project.KeyIssued
KeyRevoked: Any = _project.KeyRevoked
