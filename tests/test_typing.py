import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_package_is_mypy_clean():
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "reasoners", "retrievers"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
