from __future__ import annotations

import pytest

from certvault.crypto.names import dns_name
from certvault.errors import InvalidInput


@pytest.mark.parametrize(("given", "expected"), [
    ("www.Example.COM", "www.example.com"),
    ("*.example.com", "*.example.com"),
    ("bücher.example", "xn--bcher-kva.example"),
    ("host.example.", "host.example"),
])
def test_names_become_lower_case_a_labels(given: str, expected: str) -> None:
    assert dns_name(given) == expected


@pytest.mark.parametrize("bad", ["", "a b.example", "-lead.example", "x" * 64 + ".example", "a..b", "\udbbb\uddfc",
                                 "*.*.example", "under_score.example"])
def test_names_a_certificate_cannot_carry_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="not a valid DNS name"):
        dns_name(bad)
