"""FastAPI's per-request question "is this parameter's annotation a sequence?", answered
once per annotation.

To read a path, query or header parameter FastAPI asks, at every request and twice per
parameter, whether the parameter's annotation is a sequence type
(``field_annotation_is_sequence``: ``typing.get_origin``, the arguments of a union,
``issubclass`` against the sequence types), so that a list parameter reads every value
of a repeated header or query key. The answer depends on the annotation alone, which is
fixed when the route is made: a deposit asked it 8 times per request, about 1,100 of its
bytecodes on the loop's thread (bench/README.md, issue 16 (c), third pass).

``install()`` puts a memo of the same function where FastAPI's dependency solving calls
it (``fastapi.dependencies.utils``). It answers what the function answers (an annotation
it cannot keep, being unhashable, is asked each time), so the parameters read, their
errors and the OpenAPI document are the same; tests/e2e/test_param_analysis.py checks it
against the original over every parameter of the app.
"""

from __future__ import annotations

from collections.abc import Callable

import fastapi.dependencies.utils as dependency_utils

Analysis = Callable[[object], bool]
NAME = "field_annotation_is_sequence"  # as fastapi.dependencies.utils imports it


class Memo:
    """``analysis`` answered once per (hashable) annotation."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self.answers: dict[object, bool] = {}

    def __call__(self, annotation: object) -> bool:
        try:
            return self.answers[annotation]
        except KeyError:
            answer = self.answers[annotation] = self.analysis(annotation)
            return answer
        except TypeError:  # unhashable: nothing to keep it by
            return self.analysis(annotation)


def install() -> None:
    """Answer FastAPI's dependency solving from a ``Memo`` (once per process)."""
    current = getattr(dependency_utils, NAME)  # fails loudly should FastAPI rename it
    if not isinstance(current, Memo):
        setattr(dependency_utils, NAME, Memo(current))
