from tests.server.conftest import *  # noqa: F403
