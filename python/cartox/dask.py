"""Sweeps beyond one machine: :func:`sweep` runs :func:`cartox.sweep` on every partition of a
Dask DataFrame, on whatever cluster the active Dask client uses (a ``LocalCluster``, Dask on
Slurm with ``dask-jobqueue``, Kubernetes). The rows equal ``cartox sweep`` on the whole table.

Example::

    import dask.dataframe as dd
    from dask.distributed import Client
    import cartox, cartox.dask

    client = Client()                                   # or a cluster's scheduler address
    params = dd.from_pandas(cartox.population(1_000_000, seed=42), npartitions=200)
    results = cartox.dask.sweep(params, model="cartox", days=28).compute()

Rows are numbered by the table's index (``number_rows="index"``): a table from
``dd.from_pandas`` (or Parquet written with its index) keeps the whole table's row numbers in
every partition, so default ``ID``s and the row numbers in messages are the CLI's. (A table from
``dd.read_csv`` restarts its index in every partition: give it an ``ID`` column.)
"""

from __future__ import annotations

from typing import Any

import cartox


def sweep(table: Any, model: str = cartox.DEFAULT_MODEL, *, jobs: int = 1, **settings: Any) -> Any:
    """A lazy Dask DataFrame of :func:`cartox.sweep` over every partition of ``table`` (a Dask
    DataFrame), with ``settings`` (``allow_extra``, ``days``, ``dose``...) as in
    :func:`cartox.sweep`. ``jobs`` threads solve each partition (default 1: let Dask's workers
    provide the parallelism; raise it with ``threads_per_worker=1`` workers on many-core
    nodes)."""
    settings.setdefault("number_rows", "index")
    meta = cartox.sweep(table._meta, model, jobs=jobs, **settings)
    return table.map_partitions(cartox.sweep, model, jobs=jobs, meta=meta, **settings)
