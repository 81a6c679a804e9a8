"""mlxbench: MLX against PyTorch, op by op, on every backend and across releases."""

__version__ = "0.1.0"
