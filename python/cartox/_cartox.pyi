"""Type stubs of the Rust extension `cartox._cartox` (use the `cartox` package's functions)."""

from typing import Dict, List, Optional, Sequence, Tuple

class CartoxError(ValueError):
    """A cartox error; the message is the CLI's one-line error."""

def models() -> List[Tuple[str, str, str]]: ...
def describe(model: str) -> str: ...
def simulate(
    model: str, values: Dict[str, str], set: Sequence[Tuple[str, str]], interventions: bool
) -> Tuple[List[Tuple[str, List[float]]], str]: ...
def plot(
    out: str,
    model: str,
    values: Dict[str, str],
    set: Sequence[Tuple[str, str]],
    interventions: bool,
    scenarios: Sequence[Tuple[str, Sequence[Tuple[str, str]]]],
    panels: Sequence[str],
    width: int,
    height: int,
    title: Optional[str],
) -> None: ...
def sweep(
    model: str,
    values: Dict[str, str],
    set: Sequence[Tuple[str, str]],
    interventions: bool,
    header: Sequence[str],
    cells: Sequence[Sequence[str]],
    index: Sequence[int],
    jobs: int,
    allow_extra: bool,
) -> Tuple[
    Optional[int],
    List[Tuple[int, str]],
    List[Tuple[str, str, object]],
    bytes,
    List[str],
]: ...
def population(model: str, n: int, seed: int, weight_cv: float) -> Tuple[List[str], List[bytes]]: ...
def metric_names() -> List[str]: ...
