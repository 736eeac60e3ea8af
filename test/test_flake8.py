"""Style: ament_flake8 with the settings in setup.cfg."""

from pathlib import Path

from ament_flake8.main import main_with_errors
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ['jetson_classifier', 'test', 'launch', 'tools', 'benchmarks', 'setup.py']


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    paths = [str(ROOT / p) for p in CHECKED if (ROOT / p).exists()]
    rc, errors = main_with_errors(argv=['--config', str(ROOT / 'setup.cfg'), *paths])
    assert rc == 0, f'Found {len(errors)} code style errors / warnings:\n' + '\n'.join(errors)
