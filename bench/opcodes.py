"""Python bytecodes per function, counted by ``sys.settrace`` opcode events: the figure of
the bytecode benchmarks (bench/deposit_bytecodes.py, bench/http_bytecodes.py,
bench/usage_cost.py) that the machine's load cannot move. Each says which threads count
and how a function is named; the counting is this one."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send


class OpcodeCounter:
    """Counts opcodes and calls per function while ``on``, on the threads ``counted``
    accepts (all, here), keyed by ``key`` (the file's name and the function's)."""

    def __init__(self) -> None:
        self.on = False
        self.by_function: Counter[Any] = Counter()
        self.calls: Counter[Any] = Counter()

    def counted(self) -> bool:
        return True

    def key(self, code: CodeType) -> Any:
        return f"{Path(code.co_filename).name}:{code.co_qualname}"

    def tracer(self, frame: FrameType, what: str, arg: Any) -> Any:
        if not self.on or not self.counted():
            return None
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        key = self.key(frame.f_code)
        counts = self.by_function
        self.calls[key] += 1

        def local(frame: FrameType, what: str, arg: Any) -> Any:
            if what == "opcode" and self.on:
                counts[key] += 1
            return local

        return local

    def noted(self) -> None:
        """Called on the server's loop at each request, before it is traced."""

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app``, tracing the loop's thread from its first request while ``on`` (a
        thread that was running before the count started never sees
        ``threading.settrace``; later frames and resumed coroutines are then traced)."""

        async def traced(scope: Scope, receive: Receive, send: Send) -> None:
            self.noted()
            if self.on and sys.gettrace() is None:
                sys.settrace(self.tracer)
            await app(scope, receive, send)

        return traced
