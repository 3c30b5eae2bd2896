"""Fixtures for the docker area: the engine, the cached images, throw-away labelled containers."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.backends.docker import LABEL_OWNER, LABEL_RUN, owner_label
from harness.images import Images, docker_client

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this area needs the machine's Docker engine: mark it `docker`."""
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def client() -> Any:
    """The docker SDK client (these tests need the machine's Docker engine)."""
    return docker_client()


@pytest.fixture(scope="session")
def images(client: Any) -> Images:
    return Images(client)


@pytest.fixture(scope="session")
def base_image(images: Images) -> str:
    """dmdw/base (debootstrap + docker import on the first run of a machine, cached after)."""
    return images.base()


@pytest.fixture(scope="session")
def emulator_image(images: Images) -> str:
    return images.emulator()


@pytest.fixture
def container(client: Any) -> Iterator[Callable[..., Any]]:
    """Factory: a running labelled container of an image (`sleep infinity`), removed after the test."""
    made: list[Any] = []

    def start(image: str, **kwargs: Any) -> Any:
        labels = {LABEL_RUN: f"test-{uuid.uuid4().hex[:8]}", LABEL_OWNER: owner_label()}
        c = client.containers.run(image, ["sleep", "infinity"], detach=True, init=True, labels=labels, **kwargs)
        made.append(c)
        return c

    yield start
    for c in made:
        with contextlib.suppress(Exception):
            c.remove(force=True)
