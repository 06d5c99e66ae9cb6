"""The auth-matrix suite against the local stack: no signed-in route accepts a caller without
a valid ID token, and no route accepts a caller without its role."""

from __future__ import annotations

from tests.e2e.stack_process import StackProcess
from tests.verify import auth_matrix
from tests.verify.support import Contract


def test_given_every_signed_in_route_when_refused_callers_call_it_then_none_is_accepted(
    local_stack: StackProcess,
) -> None:
    # Given the signed-in routes of the served OpenAPI document
    signed_in = [op for op in Contract.served_by(local_stack).operations if op.signed_in]

    # When each is called without, with bad and with foreign tokens, and without the role
    figures = auth_matrix.run(local_stack)

    # Then every route was checked and no refused caller got a 2xx
    assert set(figures) == {"routes", "unauthorised_accepted", "forbidden_accepted"}
    assert figures["routes"] == len(signed_in) > 0
    assert figures["unauthorised_accepted"] == 0
    assert figures["forbidden_accepted"] == 0
