"""Links that open the Documents page on a topic's documents or on one document."""
from __future__ import annotations

import pytest

from topicbert.studio.documents import DocumentsLink


@pytest.mark.parametrize("link", [DocumentsLink(3, topic=2), DocumentsLink(3, doc=41), DocumentsLink(5)])
def test_documents_link_round_trips_through_the_query(link):
    assert DocumentsLink.from_query(link.query_params()) == link


@pytest.mark.parametrize("query", [{}, {"run": "x"}, {"run": "3", "topic": "-1"}, {"topic": "2"}])
def test_documents_link_refuses_what_is_not_a_link(query):
    assert DocumentsLink.from_query(query) is None
