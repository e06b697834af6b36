"""What a training run cost: a FLOPs estimate, energy from RAPL counters, and the summary the
Trainer prints at the end of ``train()``.

FLOPs (Kaplan et al. 2020, "Scaling Laws", table 1; the Chinchilla paper uses the same count)::

    training FLOPs per token = 6 * N  +  6 * n_layer * n_ctx * d_model
                               ^^^^^    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
    forward + backward (3 x 2 FLOPs      the attention scores and weighted sum,
    per multiply-add) over the N         3 x 2 * n_layer * n_ctx * d_model
    non-embedding parameters

``6 * N * tokens`` alone is transformers' ``Trainer.floating_point_ops(inputs)`` (what its
Trainer adds up into ``state.total_flos``; ``PreTrainedModel.floating_point_ops`` in 4.x);
:func:`floating_point_ops` returns exactly that with ``include_attention=False`` and adds the
attention term by default. ``n_ctx`` is the length of
the batch (padding included: it is computed), ``tokens`` the elements of the main input.

Energy: :class:`EnergyMeter` reads ``/sys/class/powercap/intel-rapl:*/energy_uj`` (Intel and AMD
CPUs under Linux), handles the counters' wrap-around at ``max_energy_range_uj``, and says
plainly when there is nothing to read (no powercap folder, as in most VMs and containers, or
files readable by root only): it never estimates.
"""
from __future__ import annotations

import datetime
import glob
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["EnergyMeter", "EnergyReport", "RaplDomain", "attention_dims", "count_tokens",
           "find_rapl_domains", "floating_point_ops", "format_flos", "format_train_summary",
           "non_embedding_parameters"]

logger = logging.getLogger("ember.trainer")

RAPL_ROOT = "/sys/class/powercap"


# ---------------------------------------------------------------------------- FLOPs
def _array(x: Any) -> np.ndarray | None:
    if x is None:
        return None
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # ember (or torch) tensors
        x = x.detach().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError):
        return None


def count_tokens(inputs: Mapping, main_input_name: str = "input_ids",
                 non_padding: bool = False) -> int:
    """Tokens in a batch: the elements of ``inputs[main_input_name]`` (transformers'
    ``estimate_tokens``), or with ``non_padding=True`` the ones of ``attention_mask`` (when the
    batch has one). 0 when the batch has no such input."""
    if not isinstance(inputs, Mapping):
        return 0
    if non_padding and inputs.get("attention_mask") is not None:
        mask = _array(inputs["attention_mask"])
        if mask is not None:
            return int(mask.sum())
    ids = _array(inputs.get(main_input_name))
    return 0 if ids is None else int(ids.size)


def non_embedding_parameters(model) -> int:
    """Distinct parameters (tied weights once) outside ``nn.Embedding`` modules: transformers'
    ``num_parameters(exclude_embeddings=True)``."""
    from .. import nn

    skip = {id(p) for m in model.modules() if isinstance(m, nn.Embedding)
            for p in m.parameters()}
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen or id(p) in skip:
            continue
        seen.add(id(p))
        total += int(p.numel())
    return total


def attention_dims(config: Any) -> tuple[int, int] | None:
    """``(n_layer, d_model)`` from a model config (GPT-2's ``n_layer``/``n_embd`` or the
    ``num_hidden_layers``/``hidden_size`` most configs use), or None."""
    if config is None:
        return None
    for layers, width in (("num_hidden_layers", "hidden_size"), ("n_layer", "n_embd")):
        n_layer, d_model = getattr(config, layers, None), getattr(config, width, None)
        if isinstance(n_layer, int) and isinstance(d_model, int):
            return n_layer, d_model
    return None


def floating_point_ops(model, inputs: Mapping, exclude_embeddings: bool = True,
                       include_attention: bool = True) -> int:
    """Training FLOPs (forward + backward) of one batch, see the module docstring.

    ``include_attention=False`` gives transformers' ``Trainer.floating_point_ops(inputs)``:
    ``6 * tokens * parameters`` (non-embedding ones unless ``exclude_embeddings=False``)."""
    main = getattr(model, "main_input_name", "input_ids")
    tokens = count_tokens(inputs, main)
    if tokens == 0:
        return 0
    if exclude_embeddings:
        n_params = non_embedding_parameters(model)
    else:
        n_params = sum(int(p.numel()) for p in {id(p): p for p in model.parameters()}.values())
    flops = 6 * tokens * n_params
    dims = attention_dims(getattr(model, "config", None))
    ids = _array(inputs.get(main))
    if include_attention and dims is not None and ids is not None and ids.ndim >= 1:
        n_layer, d_model = dims
        flops += 6 * n_layer * int(ids.shape[-1]) * d_model * tokens
    return int(flops)


def format_flos(flos: float) -> str:
    """``1.23e+15`` as ``1.23 PFLOPs`` (decimal prefixes)."""
    for value, prefix in ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"),
                          (1e3, "K")):
        if abs(flos) >= value:
            return f"{flos / value:.3g} {prefix}FLOPs"
    return f"{flos:.0f} FLOPs"


# ---------------------------------------------------------------------------- energy (RAPL)
@dataclass
class RaplDomain:
    """One RAPL zone: ``name`` (``package-0``, ``dram``...), its sysfs folder and the counter's
    range (it wraps to 0 past ``max_energy_range_uj``)."""
    name: str
    path: str
    max_energy_range_uj: int

    def read_uj(self) -> int:
        with open(os.path.join(self.path, "energy_uj"), encoding="ascii") as f:
            return int(f.read().strip())


@dataclass
class EnergyReport:
    """Energy used between ``EnergyMeter()`` and ``stop()``: total and per domain, joules."""
    joules: float
    seconds: float
    domains: dict[str, float] = field(default_factory=dict)

    @property
    def watt_hours(self) -> float:
        return self.joules / 3600.0

    @property
    def mean_watts(self) -> float:
        return self.joules / self.seconds if self.seconds > 0 else float("nan")


_TOP_ZONE = re.compile(r"^intel-rapl:\d+$")
_SUB_ZONE = re.compile(r"^intel-rapl:\d+:\d+$")


def find_rapl_domains(root: str = RAPL_ROOT) -> tuple[list[RaplDomain], str | None]:
    """The RAPL zones worth adding up, and why there are none when the list is empty.

    Packages (each covers its cores and uncore) plus their ``dram`` sub-zones; without a
    ``package-*`` zone, every top-level zone. ``psys`` (the whole SoC) is left out next to
    packages, which it contains. Each counter must be readable now."""
    zones = sorted(glob.glob(os.path.join(root, "intel-rapl:*")))
    if not zones:
        return [], f"no RAPL counters: {os.path.join(root, 'intel-rapl:*')} does not exist"

    def zone(path: str) -> RaplDomain | None:
        try:
            with open(os.path.join(path, "name"), encoding="ascii") as f:
                name = f.read().strip()
            with open(os.path.join(path, "max_energy_range_uj"), encoding="ascii") as f:
                max_range = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return RaplDomain(name, path, max_range)

    top = [z for p in zones if _TOP_ZONE.match(os.path.basename(p)) and (z := zone(p))]
    packages = [z for z in top if z.name.startswith("package")]
    chosen = packages or top
    if packages:
        chosen = chosen + [z for p in zones if _SUB_ZONE.match(os.path.basename(p))
                           and (z := zone(p)) is not None and z.name == "dram"]
    readable, denied = [], []
    for z in chosen:
        try:
            z.read_uj()
            readable.append(z)
        except PermissionError:
            denied.append(z.name)
        except (OSError, ValueError):
            pass
    if readable:
        return readable, None
    if denied:
        return [], (f"RAPL counters are not readable by this user ({', '.join(denied)}: "
                    "energy_uj is root-only on most kernels)")
    return [], "RAPL counters could not be read"


class EnergyMeter:
    """Accumulates RAPL energy from construction until ``stop()``.

    Call ``sample()`` now and then (the Trainer does at each micro-batch; it reads at most every
    ``min_interval_s``): each reading adds the increase since the previous one, so a counter
    that wraps (a 262 kJ range, common on Intel CPUs, wraps every 44 minutes at 100 W) is
    counted right as long as readings are closer together than one wrap. ``available`` is
    False, with ``reason``, where the machine exposes no readable counter."""

    def __init__(self, root: str = RAPL_ROOT, min_interval_s: float = 1.0) -> None:
        self.domains, self.reason = find_rapl_domains(root)
        self.min_interval_s = float(min_interval_s)
        self._start = time.monotonic()
        self._last_read = self._start
        self._last = {}
        self._total_uj = {}
        for d in self.domains:
            try:
                self._last[d.path] = d.read_uj()
                self._total_uj[d.path] = 0
            except (OSError, ValueError):
                pass
        self.domains = [d for d in self.domains if d.path in self._last]
        if not self.domains and self.reason is None:
            self.reason = "RAPL counters could not be read"

    @property
    def available(self) -> bool:
        return bool(self.domains)

    def sample(self, force: bool = False) -> None:
        """Add the energy since the last reading (skipped if it was under
        ``min_interval_s`` ago, unless ``force``)."""
        if not self.domains:
            return
        now = time.monotonic()
        if not force and now - self._last_read < self.min_interval_s:
            return
        self._last_read = now
        for d in self.domains:
            try:
                value = d.read_uj()
            except (OSError, ValueError):
                continue
            last = self._last[d.path]
            delta = value - last if value >= last else d.max_energy_range_uj - last + value
            self._total_uj[d.path] += delta
            self._last[d.path] = value

    def stop(self) -> EnergyReport | None:
        """The energy since construction, or None where it is not available."""
        if not self.domains:
            return None
        self.sample(force=True)
        per: dict[str, float] = {}
        for d in self.domains:
            key = d.name if d.name not in per else f"{d.name} ({os.path.basename(d.path)})"
            per[key] = self._total_uj[d.path] / 1e6
        return EnergyReport(sum(per.values()), time.monotonic() - self._start, per)


def format_energy(report: EnergyReport | None, reason: str | None = None) -> str:
    if report is None:
        return "not available on this machine" + (f" ({reason})" if reason else "")
    return (f"{report.joules:.4g} J ({report.watt_hours:.4g} Wh, mean {report.mean_watts:.3g} W"
            f" over {', '.join(report.domains)})")


# ---------------------------------------------------------------------------- summary
def format_train_summary(metrics: Mapping[str, Any], energy: EnergyReport | None = None,
                         energy_reason: str | None = None) -> str:
    """The block printed at the end of ``train()``: transformers' ``log_metrics`` layout for
    the TrainOutput metrics, plus the energy line."""
    lines = {}
    for key in sorted(metrics):
        value = metrics[key]
        if key.endswith("_runtime") and isinstance(value, (int, float)):
            hundredths = int(abs(value - int(value)) * 100)
            text = f"{datetime.timedelta(seconds=int(value))}.{hundredths:02d}"
        elif key == "total_flos" and isinstance(value, (int, float)):
            text = format_flos(float(value))
        elif key == "train_energy_joules":
            continue  # the energy line below says it with its units
        elif isinstance(value, float):
            text = f"{value:.6g}"
        else:
            text = str(value)
        lines[key] = text
    lines["energy"] = format_energy(energy, energy_reason)
    width = max(len(k) for k in lines)
    body = "\n".join(f"  {k:<{width}} = {v}" for k, v in lines.items())
    return f"***** train metrics *****\n{body}"
