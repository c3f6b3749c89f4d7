"""The whole-core cocotb test: run the job file named by ``TTFS_JOB`` on ``ttfs_core``.

The job (:func:`verify.differential.write_job`) lists programs (an image load and its
samples) and the bench options (seed, idle cycles, backpressure, checking). The bench checks
every record and trace event against the reference model as it arrives and writes everything
it collected to ``TTFS_RESULTS``, also when it fails.
"""

import cocotb

from ttfs.verify.tb import run_job_from_env


@cocotb.test()
async def run_job(dut):
    await run_job_from_env(dut)
