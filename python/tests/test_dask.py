"""Part 4 of issue 18: a sweep over the partitions of a large parameter table with Dask (a
LocalCluster of 2 worker processes here; the same code runs on Dask on Slurm or Kubernetes)
gives the rows of `cartox sweep` on the whole table."""

from __future__ import annotations

import numpy as np
import pandas as pd

import dask.dataframe as dd
import dask.distributed as distributed

import cartox
import cartox.dask
from conftest import assert_sweep_equals_cli, run_cli


def table(n: int) -> pd.DataFrame:
    df = cartox.population(n, seed=5)
    rng = np.random.default_rng(8)
    df["ld"] = rng.choice(["none", "flu-cy"], n)
    df["arm"] = rng.choice(["low", "high"], n)
    df = df.drop(columns="ID")  # numbered by row, as the CLI numbers a table without ID
    df.loc[17, "weight"] = -70.0  # bad rows fail alone, named by their row in the whole table
    df.loc[233, "ld"] = "nope"
    return df


def test_dask_partitions_give_the_cli_rows(cli, tmp_path):
    df = table(400)
    df.to_csv(tmp_path / "p.csv", index=False)
    run_cli(cli, "sweep", "--params", str(tmp_path / "p.csv"), "--out", str(tmp_path / "r.csv"),
            "--allow-extra", "--days", "21", "--quiet", ok=(3,))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        params = dd.from_pandas(df, npartitions=7)
        lazy = cartox.dask.sweep(params, allow_extra=True, days=21)
        result = lazy.compute()
    assert params.npartitions == 7
    assert_sweep_equals_cli(result, tmp_path / "r.csv")
    failed = result[result["status"] == "error"]
    assert list(failed["ID"]) == [18, 234]
    assert failed["message"].iloc[1].startswith("row 234, column ld: ")


def test_map_partitions_by_hand_is_the_same(tmp_path):
    """The recipe without the helper: map_partitions(cartox.sweep, number_rows='index')."""
    df = table(400)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None):
        params = dd.from_pandas(df, npartitions=3)
        meta = cartox.sweep(df.iloc[:0], allow_extra=True)
        result = params.map_partitions(cartox.sweep, allow_extra=True, number_rows="index",
                                       meta=meta).compute()
    pd.testing.assert_frame_equal(result, cartox.sweep(df, allow_extra=True), check_exact=True)
