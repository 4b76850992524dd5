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

    def save(target, name: str) -> None:
        """``target``: a page (shot whole, from the top: a #fragment scrolled it, and
        sticky bars would land mid-page) or one element (shot alone)."""
        path = tmp_path / f"{name}.png"
        if hasattr(target, "goto"):
            target.evaluate("window.scrollTo(0, 0)")
            target.screenshot(path=str(path), full_page=True)
        else:
            target.screenshot(path=str(path))
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)

    return save
