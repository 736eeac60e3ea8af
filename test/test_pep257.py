"""Docstrings: ament_pep257."""

from pathlib import Path

from ament_pep257.main import main
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257():
    rc = main(argv=[str(ROOT / 'jetson_classifier'), str(ROOT / 'test')])
    assert rc == 0, 'Found code style errors / warnings'
