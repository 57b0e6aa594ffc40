"""``benchmarks/gsm8k_paired.py``: the paired sign test the benchmark tables quote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gsm8k_paired.py"


def paired(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(folder), *args], check=False,
                          capture_output=True, text=True)


def write_journal(folder: Path, rows: list[tuple[str, int | None, str, bool]]) -> None:
    with (folder / "results.jsonl").open("w") as f:
        for strategy, budget, pid, correct in rows:
            answer = "right" if correct else f"wrong-{strategy}"
            f.write(json.dumps({"strategy": strategy, "budget": budget, "problem_id": pid,
                                "answer": answer, "correct": correct}) + "\n")


def test_sign_test_is_exact():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from gsm8k_paired import sign_test
    finally:
        sys.path.remove(str(SCRIPT.parent))
    assert sign_test(0, 0) == 1.0
    assert abs(sign_test(14, 2) - 2 * (1 + 16 + 120) / 2**16) < 1e-12  # MBPP's best-of-8 against greedy
    assert sign_test(3, 3) == 1.0


def test_pairs_at_the_budget_asked_for(tmp_path):
    rows = [("a", 300, str(i), False) for i in range(4)] + [("b", 300, str(i), i < 3) for i in range(4)]
    rows += [("a", 600, str(i), True) for i in range(4)] + [("b", 600, str(i), False) for i in range(4)]
    write_journal(tmp_path, rows)
    low = paired(tmp_path, "--reference", "a", "--budget", "300")
    assert low.returncode == 0, low.stderr
    assert "| b | 3 | 4 / 3 / 0 |" in low.stdout
    high = paired(tmp_path, "--reference", "a", "--budget", "600")
    assert "| b | 0 | 4 / 0 / 4 |" in high.stdout


def test_several_budgets_without_a_choice_is_one_clear_line(tmp_path):
    write_journal(tmp_path, [("a", 300, "0", True), ("a", 600, "0", True)])
    out = paired(tmp_path, "--reference", "a")
    assert out.returncode == 2 and "choose one with --budget" in out.stderr and "Traceback" not in out.stderr
    out = paired(tmp_path, "--reference", "a", "--budget", "lots")
    assert out.returncode == 2 and "--budget lots is not in the journal" in out.stderr
