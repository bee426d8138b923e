"""Configuration of the kernels of the course's venv: ``make install`` copies it to .venv/etc/ipython/.

ipykernel 7 logs "Kernel is running over TCP without encryption" each time a kernel starts, on the
kernel's standard error, which it shares with whatever started it: ``make execute`` printed it once
per chapter, ``make lab`` once per notebook opened (pytest's capture hides it in ``make test``). The
kernels listen on 127.0.0.1 only (jupyter_client's default), where plain TCP is what every Jupyter
kernel has always used. This filter drops that one message; every other kernel message still shows.
A kernel reads this file from ``sys.prefix/etc/ipython``, so only the course's venv is affected.
"""

import logging


class _PlainTCPNotice(logging.Filter):
    def filter(self, record):
        return "running over TCP without encryption" not in record.getMessage()


logging.getLogger("IPKernelApp").addFilter(_PlainTCPNotice())
