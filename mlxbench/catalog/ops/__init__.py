"""The op families: one module per kind of operation, each a list ``OPS`` of entries.

Each module reads as documentation of what is measured and why the MLX and
PyTorch sides compute the same function; :mod:`mlxbench.catalog` collects them.
"""
