"""Root pytest configuration, shared by the library tests and the nbval run over book/.

nbval starts each notebook's kernel with this process's environment. Printing a set of strings
follows string hashing, which Python randomises per process: fix the seed before any kernel starts,
so that stored outputs (written by tools/execute_notebooks.py with the same seed) compare equal.
"""

import os

os.environ["PYTHONHASHSEED"] = "0"
# A non-interactive backend inherited from the caller would change what plotting cells output.
os.environ.pop("MPLBACKEND", None)
