"""``net`` (a batch's rollup change in one pass) equals the per-complaint deltas merged, on
the scenario's complaints moved through their lifecycles event by event."""

from __future__ import annotations

import uuid

from services.satisfaction.domain.contribution import (
    Answer,
    Contribution,
    Survey,
    contribution,
    delta,
    merge,
    net,
)
from services.satisfaction.domain.facts import Facts, fold, state_of
from services.satisfaction.settings import DEFAULT_LADDER
from tests.unit.satisfaction import scenario


def steps() -> tuple[list[tuple[Contribution, Contribution]], list[Contribution]]:
    """(before, after) of every event of the scenario, in turn; each complaint's final
    contribution."""
    facts: dict[uuid.UUID, Facts] = {}
    surveys: dict[uuid.UUID, list[Survey]] = {}
    answers: dict[uuid.UUID, list[Answer]] = {}
    pairs = []
    for _, data in scenario.lifecycle():
        cid = data.complaint_id  # type: ignore[attr-defined]
        f = facts.setdefault(cid, Facts(cid))
        s, a = surveys.setdefault(cid, []), answers.setdefault(cid, [])
        before = contribution(f, s, a)
        if data.event_type == "survey.requested":  # type: ignore[attr-defined]
            s.append(Survey(str(data.survey_id), data.requested_at, False))  # type: ignore[attr-defined]
        else:
            fold(f, data.event_type, data.model_dump(mode="json"), DEFAULT_LADDER)  # type: ignore[attr-defined]
        pairs.append((before, contribution(f, s, a)))
    for answer in scenario.answers():
        cid = answer.complaint_id
        before = contribution(facts[cid], surveys[cid], answers[cid])
        answers[cid].append(Answer(str(uuid.uuid4()), answer.score, tuple(answer.factors),
                                   answer.recorded_at))  # fmt: skip
        surveys[cid] = [Survey(x.survey_id, x.requested_at, True) for x in surveys[cid]]
        pairs.append((before, contribution(facts[cid], surveys[cid], answers[cid])))
    return pairs, [contribution(f, surveys[c], answers[c]) for c, f in facts.items()]


def test_net_is_the_merged_deltas() -> None:
    pairs, finals = steps()
    merged = merge(delta(before, after) for before, after in pairs)
    assert net(pairs) == merged
    assert merged.counters and merged.hist and merged.factors
    # Every complaint starts from nothing: its steps add up to its final contribution.
    assert net(pairs) == merge(finals)
    assert net([(after, before) for before, after in pairs]) == merge(
        delta(after, before) for before, after in pairs
    )


def test_a_pair_without_change_nets_to_nothing() -> None:
    _, after = steps()[0][-1]
    assert net([(after, after)]) == Contribution.empty()


def test_state_of_is_a_copy() -> None:
    f = Facts(scenario.A, channel="web")
    state = state_of(f)
    f.breached.add("acknowledge")
    f.channel = "hotline"
    assert state_of(f) != state
    assert state_of(Facts(scenario.A, channel="web")) == state
