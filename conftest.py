"""Root pytest configuration, shared by the library tests and the nbval run over book/.

nbval starts each notebook's kernel with this process's environment. Printing a set of strings
follows string hashing, which Python randomises per process: fix the seed before any kernel starts,
so that stored outputs (written by tools/execute_notebooks.py with the same seed) compare equal.
"""

import os

os.environ["PYTHONHASHSEED"] = "0"
# One BLAS thread in every kernel: matrix products then sum in the same order whatever the machine
# is doing (stored outputs are compared exactly), and two processes on a 2-core machine do not
# oversubscribe it (multithreaded OpenBLAS ran 10 to 30 times slower under load here).
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
# A non-interactive backend inherited from the caller would change what plotting cells output.
os.environ.pop("MPLBACKEND", None)
