"""Every oracle and baseline of the engine, in one place; nothing in production imports
from here (tests/test_import_graph.py checks).

- :mod:`.engine` and :mod:`.pricing`: the pure-Python margin model (lists and ``math``; slow,
  the test oracle), exported here as :class:`MarginEngine` and :func:`black76`;
- :mod:`.numpy_engine`: the model vectorised with NumPy/SciPy, the second independent
  implementation and the benchmark baseline;
- :mod:`.dynamic`: the dynamic-margin layer (docs §10) in pure Python.
"""

from . import dynamic, numpy_engine
from .engine import MarginEngine
from .pricing import black76

__all__ = ["MarginEngine", "black76", "dynamic", "numpy_engine"]
