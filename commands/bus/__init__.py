"""The command bus: the group-commit runtime that runs handlers and writes their events.

``commands.bus`` is the public path: handlers, the API and the tests import
``CommandBus``, ``Context``, ``Handler``, ``Happened``, ``Result`` and ``Outcome`` (and
``Reply``, what ``CommandBus.submit`` answers) from here. Inside:

- ``runtime``: ``CommandBus``, its writer and committer threads;
- ``pipeline``: a caller's reply, a queued command, a batch, the pacer;
- ``synchronous``: a batch, or one command, run and written at once (retries);
- ``unit_of_work``: the aggregates one batch shares, and the event writer's port;
- ``usage_source``: the port through which a handler reads usage totals (rating);
- ``context``: what a command runs with (``Context``), what its handler answers
  (``Result``: what ``Happened``, and the body) and what the bus answers (``Outcome``).
"""

from __future__ import annotations

from commands.bus.context import Context, Handler, Happened, Outcome, Result
from commands.bus.pipeline import Reply
from commands.bus.runtime import CommandBus

__all__ = ["CommandBus", "Context", "Handler", "Happened", "Outcome", "Reply", "Result"]
