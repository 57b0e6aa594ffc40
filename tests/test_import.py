import subprocess
import sys


def test_import_does_not_load_litellm():
    code = "import sys, reasoners, retrievers; print('litellm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_api_is_explicit():
    import reasoners

    assert "LLM" in reasoners.__all__ and "Budget" in reasoners.__all__
    for name in reasoners.__all__:
        assert hasattr(reasoners, name), name
