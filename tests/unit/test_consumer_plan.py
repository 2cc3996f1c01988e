"""How the runner splits a batch for its batch handlers: each key's events in order, events
of one batch handler gathered, nothing moved across an event without one."""

from __future__ import annotations

from shared.events.envelope import Envelope
from shared.messaging.consumer import plan


def ev(kind: str, key: str, seq: int) -> tuple[str, Envelope]:
    return key, Envelope(source="/t", type=kind, subject=key, data={"seq": seq})


async def _a(session, events) -> None: ...


async def _b(session, events) -> None: ...


def names(groups: list[list[Envelope]]) -> list[list[str]]:
    return [[f"{e.type}:{e.subject}{e.data['seq']}" for e in g] for g in groups]


def test_events_of_one_batch_handler_are_gathered_past_other_keys():
    todo = [ev("a", "x", 1), ev("b", "y", 1), ev("a", "y", 2), ev("a", "z", 1)]
    # y's "a" waits for y's "b"; z's joins x's.
    assert names(plan(todo, {"a": _a, "b": _b})) == [
        ["a:x1", "a:z1"],
        ["b:y1"],
        ["a:y2"],
    ]


def test_types_sharing_a_batch_handler_go_together_in_order():
    todo = [ev("a", "x", 1), ev("c", "x", 2), ev("a", "y", 1)]
    assert names(plan(todo, {"a": _a, "c": _a})) == [["a:x1", "c:x2", "a:y1"]]


def test_nothing_moves_across_an_event_without_a_batch_handler():
    todo = [ev("a", "x", 1), ev("plain", "q", 1), ev("a", "y", 1), ev("a", "z", 1)]
    assert names(plan(todo, {"a": _a})) == [["a:x1"], ["plain:q1"], ["a:y1", "a:z1"]]


def test_without_batch_handlers_every_event_is_alone_in_order():
    todo = [ev("a", "x", 1), ev("a", "y", 1)]
    assert names(plan(todo, {})) == [["a:x1"], ["a:y1"]]
