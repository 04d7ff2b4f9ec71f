"""Fixtures for the REST API tests (`tests/test_api_*.py`).

Test modules load them with `pytest_plugins = ["tests.api_fixtures"]` and do not import this
module themselves (importing it first would stop pytest from rewriting its asserts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient


class HelpdeskAPIClient(APIClient):
    """APIClient with JSON bodies by default and short-hands for paginated lists."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_format = "json"

    def rows(self, path: str, params: dict | None = None) -> list[dict]:
        """The rows of a paginated list, after checking the request succeeded."""
        response = self.get(path, params or {})
        assert response.status_code == 200, response.content
        return response.json()["results"]

    def ids(self, path: str, params: dict | None = None) -> list[int]:
        return [row["id"] for row in self.rows(path, params)]


@pytest.fixture
def anonymous() -> HelpdeskAPIClient:
    return HelpdeskAPIClient()


@pytest.fixture
def client_for() -> Callable[[Any], HelpdeskAPIClient]:
    """`client_for(alice)`: an API client signed in with a session, as the web pages are."""

    def make(user: Any) -> HelpdeskAPIClient:
        client = HelpdeskAPIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def token_client() -> Callable[[str], HelpdeskAPIClient]:
    """`token_client(key)`: an API client that sends `Authorization: Token <key>`."""

    def make(key: str) -> HelpdeskAPIClient:
        client = HelpdeskAPIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make
