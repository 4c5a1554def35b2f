"""A stop while waiting for a call names the Auth backend actually used: "Supabase Auth" only with
the supabase gateway, never on the local one."""

from __future__ import annotations

import threading

import pytest

from synthadmin.auth import gateway_service
from synthadmin.auth.flow import FlowController
from synthadmin.exceptions import AuthCancelledError


class _Gateway:
    def __init__(self, name: str) -> None:
        self.name = name


@pytest.mark.parametrize(
    ("backend", "words"),
    [
        ("local", "the local Auth backend"),
        ("locmem", "the in-memory Auth backend"),
        ("supabase", "Supabase Auth"),
    ],
)
def test_a_stop_names_the_backend(backend, words):
    service = gateway_service(_Gateway(backend))  # type: ignore[arg-type]
    flow = FlowController(max_concurrency=1, service=service)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(AuthCancelledError) as raised:
        flow.acquire(cancel=cancel)
    assert str(raised.value) == f"stopped while waiting to call {service}"
    assert words in str(raised.value)
    assert ("Supabase" in str(raised.value)) == (backend == "supabase")
