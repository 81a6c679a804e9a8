"""The dimensions of a 7-8B language model (Llama 3 8B) that the ``models`` preset's ops are sized from.

Decode is one token per sequence at batch 1 and :data:`SMALL_BATCH`, prefill
:data:`PREFILL` tokens of one sequence: the low end of 512-4096, because MLX's
Linux CPU backend runs attention at about 1 s per 512-token prefill here.
"""

from __future__ import annotations

HIDDEN = 4096
INTERMEDIATE = 14336
HEADS = 32
KV_HEADS = 8
HEAD_DIM = 128
VOCAB = 128256
ROPE_BASE = 500000.0
CONTEXT = 4096
"""The KV cache a decode step attends to, and the last position RoPE rotates."""
PREFILL = 512
SMALL_BATCH = 8
DECODE_BATCHES = (1, SMALL_BATCH)
