"""Pure-Python reference implementation of the margin model (slow; for checking and
benchmarking the Rust engine)."""

from .engine import MarginEngine
from .pricing import black76

__all__ = ["MarginEngine", "black76"]
