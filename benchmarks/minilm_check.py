"""Our numpy all-MiniLM-L6-v2 against sentence-transformers on the same packaged weights.

    python benchmarks/minilm_check.py --reference-python /tmp/stvenv/bin/python

The reference interpreter needs ``torch`` and ``sentence-transformers`` (not this
project's dependencies; here a scratch venv with the CPU torch wheel). Both embed
the first 100 GSM8K test questions and the SBERT documentation's example pairs; the
script reports the largest absolute difference per coordinate, the lowest cosine
between the two embeddings of the same text, and both similarity matrices' largest
difference (``results/minilm_check.json``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from reasoners.bench.tasks import load_task
from reasoners.embedding.minilm import PACKAGE, MiniLMEmbedder
from reasoners.core.packages import package_file

PAIRS = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
         "A man is riding a horse.", "A woman is playing violin.", "Two men pushed carts through the woods."]

REFERENCE = """
import json, sys
import numpy as np
from sentence_transformers import SentenceTransformer
texts = json.load(open(sys.argv[1]))
model = SentenceTransformer(sys.argv[2], device="cpu")
np.save(sys.argv[3], model.encode(texts, normalize_embeddings=True, batch_size=32))
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--reference-python", required=True)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "minilm_check.json")
    args = p.parse_args()
    texts = PAIRS + [q.question for q in load_task("gsm8k", limit=100).problems]
    ours = MiniLMEmbedder().embed(texts)
    model_dir = package_file(PACKAGE, "model/model.safetensors", "").parent
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "texts.json", Path(tmp) / "ref.npy"
        src.write_text(json.dumps(texts))
        subprocess.run([args.reference_python, "-c", REFERENCE, str(src), str(model_dir), str(dst)], check=True)
        ref = np.load(dst)
    result = {
        "texts": len(texts),
        "max_abs_diff": float(np.abs(ours - ref).max()),
        "min_cosine_ours_vs_reference": float((ours * ref).sum(1).min()),
        "max_similarity_matrix_diff": float(np.abs(ours @ ours.T - ref @ ref.T).max()),
        "sbert_docs_pair_similarity": {"ours": float(ours[0] @ ours[1]), "reference": float(ref[0] @ ref[1])},
        "reference": "sentence-transformers (torch CPU) on the same model directory",
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
