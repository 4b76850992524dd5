import os
import shutil
from pathlib import Path

import pytest
from tests.server.conftest import *  # noqa: F403


@pytest.fixture
def shots(tmp_path):
    """Save a page's screenshot in the test's tmp_path, and in $STEWARD_SCREENSHOTS when set
    (a design review)."""
    keep = os.environ.get("STEWARD_SCREENSHOTS")

    def save(page, name: str) -> None:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)

    return save
