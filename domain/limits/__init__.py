"""Every limit on what a client may send, in one place (as TigerBeetle keeps them).

The API's schemas are built from these values, so OpenAPI states them, and the domain
checks them again, so a command that slips past the API is refused with nothing
written. The rule they serve: no event that a read model cannot store is ever recorded.

Units are in the names: ``_MINOR`` is minor units of a currency, ``_CHARS`` characters.

The values are kept by topic in the modules of this package (``inputs``: what a client
may send, the rule for money included; ``providers``: what payment providers take;
``workload``: how much work one request or tenant may cause; ``access``: tokens, keys
and rate limits; ``checks``: the patterns and the checks that apply them), and every
name is imported from here, as ``from domain.limits import MAX_AMOUNT_MINOR``, so the
limits stay in one place.
"""

from __future__ import annotations

# The star imports are this package's face: each module's public names are the package's
# (mypy and the callers read them from here), and no name is listed twice to drift.
from domain.limits.access import *  # noqa: F403
from domain.limits.checks import *  # noqa: F403
from domain.limits.inputs import *  # noqa: F403
from domain.limits.providers import *  # noqa: F403
from domain.limits.workload import *  # noqa: F403
