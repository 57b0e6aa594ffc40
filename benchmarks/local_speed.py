"""Speed of the embedded model, the same model behind llama.cpp's server, and a cold `reasoners run`.

    python benchmarks/local_speed.py

Generation tokens/s (greedy, 128 max tokens, 5 prompts, caching off) for
``local/smollm2`` in-process and through ``python -m llama_cpp.server`` on
127.0.0.1; then the wall time of ``reasoners run`` from a fresh process with
no cache (litellm import and model load included).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from reasoners import LLM  # noqa: E402
from reasoners.llm.local import smollm2_path  # noqa: E402
from reasoners.testing import llama_server_argv, running_server  # noqa: E402

PROMPTS = [
    "Explain why the sky is blue.",
    "Write a short story about a robot.",
    "List five fruits and describe each.",
    "How do airplanes fly?",
    "Describe the water cycle.",
]


def tokens_per_second(llm: LLM) -> dict:
    llm.generate("warm up", max_tokens=4)
    tokens, t0 = 0, time.perf_counter()
    for p in PROMPTS:
        [c] = llm.generate(p, max_tokens=128, temperature=0.0)
        tokens += c.usage.completion_tokens
    wall = time.perf_counter() - t0
    return {"completion_tokens": tokens, "seconds": round(wall, 2), "tokens_per_s": round(tokens / wall, 1)}


def main() -> None:
    out: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
    out["embedded"] = tokens_per_second(LLM("local/smollm2"))

    with running_server(llama_server_argv(smollm2_path()), seconds=240) as url:
        out["server"] = tokens_per_second(LLM("openai/smollm2", api_base=url, api_key="none"))

    cmd = [os.path.join(os.path.dirname(sys.executable), "reasoners"), "run", "What is 6 times 7?", "--no-cache"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    out["cold_reasoners_run_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import reasoners"], check=True)
    out["import_reasoners_s"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
