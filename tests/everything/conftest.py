import pytest
from pathlib import Path
@pytest.fixture(scope="session")
def tiny_bundle():
    return Path("/tmp/h4/bundle256")
