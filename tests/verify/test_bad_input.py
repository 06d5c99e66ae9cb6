"""The bad-input suite at CI size against the local stack: generated and hostile requests get
no 500, no answer the OpenAPI document does not describe, and write nothing when refused."""

from __future__ import annotations

from tests.e2e.stack_process import StackProcess
from tests.verify import bad_input
from tests.verify.support import People

# `make verify` runs >= 1000; this keeps `make test` short.
CI_EXAMPLES = 120


def test_given_the_local_stack_when_fuzzed_then_no_server_error_undocumented_answer_or_write(
    local_stack: StackProcess,
) -> None:
    # Given the running stack and its served OpenAPI document
    # When schemathesis (as admin and as crew) and the hostile list send their requests
    figures = bad_input.run(local_stack, examples=CI_EXAMPLES)

    # Then every answer is documented, none is a server error, and refusals wrote nothing
    assert set(figures) == {
        "requests",
        "server_errors",
        "undocumented_statuses",
        "writes_from_rejected_requests",
    }
    assert figures["requests"] >= CI_EXAMPLES + len(bad_input.HOSTILE)
    assert figures["server_errors"] == 0
    assert figures["undocumented_statuses"] == 0
    assert figures["writes_from_rejected_requests"] == 0


def test_given_each_hostile_request_when_sent_then_it_is_refused_with_its_own_status(
    local_stack: StackProcess,
) -> None:
    # Given the hostile list (bad amounts, texts, bodies, content types, ids)
    tally = bad_input.Tally()

    # When each is sent once
    outcomes = bad_input.hostile(local_stack, People(local_stack), tally)

    # Then each got exactly the refusal it must get, and none wrote to the ledger
    wrong = [(o.case.name, o.status, o.case.expect) for o in outcomes if o.status != o.case.expect]
    assert wrong == []
    assert len(outcomes) == len(bad_input.HOSTILE)
    assert all(o.writes == 0 for o in outcomes)
