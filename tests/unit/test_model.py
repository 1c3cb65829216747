"""The shared model: names two processors must agree on."""

from pachstream.dispatch.events import PIPELINE_REQUESTS
from pachstream.model import PIPELINE_REQUEST_TYPES


def test_pipeline_request_names_match_the_dispatchers_classes() -> None:
    # The commit processor skips requests by these names without importing the dispatcher;
    # a request class added to one side only would be dead-lettered or answered twice.
    assert {cls.TYPE for cls in PIPELINE_REQUESTS} == PIPELINE_REQUEST_TYPES
