"""The sandbox against its own OpenAPI document (schemathesis, in process, bounded):
for generated requests, valid and invalid, the sandbox never answers 5xx, and every
answer has a documented status, content type and shape.

Two checks are left out on purpose. "A schema-valid request is accepted": the scope rules
(which of ``period``, ``timePreset``, ``startDate``, ``endDate`` and
``startingCheckpoint`` combine) span parameters, which an OpenAPI 3.0 query schema cannot
say. "A schema-violating request is refused": unknown query parameters are ignored, as
APIs do. ``tests/test_sandbox_hardening.py`` covers malformed requests directly.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from pacspace_sandbox import Sandbox, SandboxConfig

checks = schemathesis.checks

SANDBOX = Sandbox(SandboxConfig(verify_latency=0.0, seed=5))
schema = schemathesis.openapi.from_asgi("/openapi.json", SANDBOX.app)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_sandbox_keeps_to_its_document(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"X-Api-Key": SANDBOX.api_key},
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
        ],
        excluded_checks=[checks.positive_data_acceptance, checks.negative_data_rejection],
    )
