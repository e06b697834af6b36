"""Recurrent layers: RNN, LSTM, GRU and their single-step cells, with torch's parameters.

Each layer and direction projects the inputs of all timesteps in one GEMM
(``_InputProjection``), then runs one fused step Function per timestep that does the hidden GEMM
and the gate nonlinearities with a hand-written backward (see ``_rnn_kernels``). Backprop through
time is ordinary autograd over that per-step graph (the engine is iterative, so long sequences
are fine). Gate order and bias placement follow torch: LSTM (i, f, g, o); GRU (r, z, n) with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ...autograd import dtypes
from ...autograd import ops as _ops
from ...autograd.grad_mode import no_grad
from ...autograd.tensor import Tensor
from .. import functional as F
from ..module import Module
from ..parameter import Parameter
from ._rnn_kernels import _GRUStep, _InputProjection, _LSTMStep, _RNNStep, _StackSteps

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase"]

# ---------------------------------------------------------------------- layers
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_NAME = {"RNN_TANH": "RNN", "RNN_RELU": "RNN", "LSTM": "LSTM", "GRU": "GRU"}


def _factory_dtype(dtype) -> np.dtype:
    return dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU (parameters, checks, the layer/direction loop)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) \
                or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: "
                            f"{type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if device is not None:
            Tensor._make(np.empty(0)).to(device)  # a GPU device is a clear error
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, \
            proj_size
        dt = _factory_dtype(dtype)
        gate = _GATES[mode] * hidden_size
        ndir = 2 if bidirectional else 1
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            for d in range(ndir):
                in_size = input_size if layer == 0 else real_hidden * ndir
                sfx = f"_l{layer}{'_reverse' if d else ''}"
                shapes = [("weight_ih", (gate, in_size)), ("weight_hh", (gate, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate,)), ("bias_hh", (gate,))]
                if proj_size > 0:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
                for name, shape in shapes:
                    setattr(self, name + sfx, Parameter(np.empty(shape, dtype=dt)))
                    self._flat_weights_names.append(name + sfx)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        with no_grad():
            for w in self.parameters():
                w.uniform_(-stdv, stdv)

    def flatten_parameters(self) -> None:
        """No-op (torch compacts weights for cuDNN; ember has nothing to compact)."""

    @property
    def _flat_weights(self) -> list:
        return [self._parameters[n] for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """Parameters grouped per layer and direction, as torch's ``all_weights``."""
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional
                                                                   else 1))
        w = self._flat_weights
        return [w[i:i + per] for i in range(0, len(w), per)]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ------------------------------------------------------------------ checks
    def _check_input(self, input: Tensor) -> None:
        wdt = self._parameters[self._flat_weights_names[0]].dtype
        if input.dtype != wdt:
            raise ValueError(f"RNN input dtype (ember.{input.dtype}) does not match weight dtype "
                             f"(ember.{wdt}). Convert input: input.to(ember.{wdt}), or convert "
                             f"model: model.to(ember.{input.dtype})")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")
        if input.shape[1 if self.batch_first else 0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")

    def _check_hidden(self, hx: Tensor, batch: int, size: int, msg: str) -> None:
        expected = (self.num_layers * (2 if self.bidirectional else 1), batch, size)
        if tuple(hx.shape) != expected:
            raise RuntimeError(msg.format(expected, list(hx.shape)))

    def _prepare(self, input: Tensor, hx):
        """Validate, add the batch dim to unbatched input; returns (input, hx, is_batched)."""
        name = _NAME[self.mode]
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected input to be a Tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D tensor "
                             "instead")
        batched = input.ndim == 3
        states = hx if isinstance(hx, (tuple, list)) else (hx,)
        if self.mode == "LSTM" and hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTM: hx must be a tuple (h_0, c_0) of Tensors")
            if any(s.ndim != (3 if batched else 2) for s in hx):
                kind = "batched 3-D" if batched else "unbatched 2-D"
                want = "3-D" if batched else "2-D"
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want} but got "
                                   f"({hx[0].ndim}-D, {hx[1].ndim}-D) tensors")
        elif hx is not None and hx.ndim != (3 if batched else 2):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            want = "3-D" if batched else "2-D"
            raise RuntimeError(f"For {kind} input, hx should also be {want} but got "
                               f"{hx.ndim}-D tensor")
        if not batched:
            input = _ops.unsqueeze(input, 0 if self.batch_first else 1)
            if hx is not None:
                states = tuple(_ops.unsqueeze(s, 1) for s in states)
        self._check_input(input)
        return input, (None if hx is None else states), batched

    # ------------------------------------------------------------------ the loop
    def _run(self, input: Tensor, states) -> tuple:
        """Run all layers; returns (output, h_n, c_n or None)."""
        ndir = 2 if self.bidirectional else 1
        batch = input.shape[0 if self.batch_first else 1]
        lstm, gru = self.mode == "LSTM", self.mode == "GRU"
        out_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        if states is None:
            z = np.zeros((batch, out_size), dtype=input.dtype)
            h0 = [Tensor._make(z)] * (self.num_layers * ndir)
            zc = np.zeros((batch, self.hidden_size), dtype=input.dtype)
            c0 = [Tensor._make(zc)] * (self.num_layers * ndir) if lstm else None
        else:
            self._check_hidden(states[0], batch, out_size, "Expected hidden[0] size {}, got {}"
                               if lstm else "Expected hidden size {}, got {}")
            h0 = list(_ops.unbind(states[0], 0))
            c0 = None
            if lstm:
                self._check_hidden(states[1], batch, self.hidden_size,
                                   "Expected hidden[1] size {}, got {}")
                c0 = list(_ops.unbind(states[1], 0))

        params = self._parameters
        x, time_axis = input, 1 if self.batch_first else 0
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(ndir):
                sfx = f"_l{layer}{'_reverse' if d else ''}"
                w_ih, w_hh = params["weight_ih" + sfx], params["weight_hh" + sfx]
                b_ih, b_hh = params.get("bias_ih" + sfx), params.get("bias_hh" + sfx)
                # b_hh folds into the projection except GRU's, which r multiplies; so does
                # W_hh's gradient (see _InputProjection), except GRU's
                xws = _InputProjection.apply(x, w_ih, b_ih, None if gru else b_hh,
                                             None if gru else w_hh, time_axis=time_axis)
                w_step = w_hh if gru else w_hh.data
                k = layer * ndir + d
                # W_hh^T made contiguous once: the per-step GEMM is ~30% faster on it
                w_t = np.ascontiguousarray(w_hh.data.T)
                h = h0[k]
                c = c0[k] if lstm else None
                hs = [None] * len(xws)
                steps = range(len(xws)) if d == 0 else range(len(xws) - 1, -1, -1)
                if lstm:
                    w_hr = params.get("weight_hr" + sfx)
                    for t in steps:
                        h, c = _LSTMStep.apply(xws[t], h, c, w_step, w_hr, w_t=w_t)
                        hs[t] = h
                    c_n.append(c)
                elif gru:
                    for t in steps:
                        h = hs[t] = _GRUStep.apply(xws[t], h, w_hh, b_hh, w_t=w_t)
                else:
                    relu = self.mode == "RNN_RELU"
                    for t in steps:
                        h = hs[t] = _RNNStep.apply(xws[t], h, w_step, relu=relu, w_t=w_t)
                node = xws[0].grad_fn
                if not gru and node is not None and node.needs_input_grad[4]:
                    prev = [a.data for a in hs]
                    prev = [h0[k].data] + prev[:-1] if d == 0 else prev[1:] + [h0[k].data]
                    node.hprev = np.stack(prev, axis=time_axis)
                outs.extend(hs)
                h_n.append(h)
            last = layer == self.num_layers - 1
            # intermediate layers stay time-major; only the final output takes the user layout
            x = _StackSteps.apply(*outs, ndir=ndir, batch_first=self.batch_first and last)
            time_axis = 0
            if not last and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout, True)
        return x, _ops.stack(h_n), (_ops.stack(c_n) if lstm else None)


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, act tanh or relu.

    ``forward(input, hx=None) -> (output, h_n)``; input (L, N, H_in), (N, L, H_in) with
    ``batch_first``, or unbatched (L, H_in); hx (num_layers * num_directions, N, H_out).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None):
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        input, states, batched = self._prepare(input, hx)
        out, h_n, _ = self._run(input, states)
        if not batched:
            return _ops.squeeze(out, 0 if self.batch_first else 1), _ops.squeeze(h_n, 1)
        return out, h_n


class LSTM(RNNBase):
    """Long short-term memory; gates (i, f, g, o); ``proj_size > 0`` projects h to that size.

    ``forward(input, hx=None) -> (output, (h_n, c_n))``; hx is ``(h_0, c_0)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        input, states, batched = self._prepare(input, hx)
        out, h_n, c_n = self._run(input, states)
        if not batched:
            return (_ops.squeeze(out, 0 if self.batch_first else 1),
                    (_ops.squeeze(h_n, 1), _ops.squeeze(c_n, 1)))
        return out, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit; gates (r, z, n), ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.

    ``forward(input, hx=None) -> (output, h_n)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        input, states, batched = self._prepare(input, hx)
        out, h_n, _ = self._run(input, states)
        if not batched:
            return _ops.squeeze(out, 0 if self.batch_first else 1), _ops.squeeze(h_n, 1)
        return out, h_n


# ---------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """Shared parameters and checks of the single-step cells."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None):
        super().__init__()
        if device is not None:
            Tensor._make(np.empty(0)).to(device)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dt = _factory_dtype(dtype)
        g = num_chunks * hidden_size
        self.weight_ih = Parameter(np.empty((g, input_size), dtype=dt))
        self.weight_hh = Parameter(np.empty((g, hidden_size), dtype=dt))
        if bias:
            self.bias_ih = Parameter(np.empty(g, dtype=dt))
            self.bias_hh = Parameter(np.empty(g, dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        with no_grad():
            for w in self.parameters():
                w.uniform_(-stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input: Tensor, states: tuple):
        """Validate and batch; returns (input, states or None, is_batched)."""
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        for s in states:
            if s is not None and s.ndim not in (1, 2):
                raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {s.ndim}D "
                                 "instead")
        batched = input.ndim == 2
        if not batched:
            input = _ops.unsqueeze(input, 0)
            states = tuple(None if s is None else _ops.unsqueeze(s, 0) for s in states)
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} "
                               f"expected {self.input_size}")
        if input.dtype != self.weight_ih.dtype:
            raise ValueError(f"{name} input dtype (ember.{input.dtype}) does not match weight "
                             f"dtype (ember.{self.weight_ih.dtype})")
        for k, s in enumerate(states):
            if s is None:
                continue
            if s.shape[0] != input.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{k} "
                                   f"batch size {s.shape[0]}")
            if s.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {s.shape[1]}, "
                                   f"expected {self.hidden_size}")
        return input, states, batched

    def _zeros(self, input: Tensor) -> Tensor:
        return Tensor._make(np.zeros((input.shape[0], self.hidden_size), dtype=input.dtype))

    def _project(self, input: Tensor, fold_hh: bool) -> Tensor:
        return _InputProjection.apply(input, self.weight_ih, self.bias_ih,
                                      self.bias_hh if fold_hh else None, None, time_axis=None)


class RNNCell(RNNCellBase):
    """One Elman RNN step: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        input, (hx,), batched = self._prepare(input, (hx,))
        h = _RNNStep.apply(self._project(input, True), self._zeros(input) if hx is None else hx,
                           self.weight_hh, relu=self.nonlinearity == "relu")
        return h if batched else _ops.squeeze(h, 0)


class LSTMCell(RNNCellBase):
    """One LSTM step; ``forward(input, (h, c)) -> (h', c')``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTMCell: hx must be a tuple (h_0, c_0) of Tensors")
        input, (h, c), batched = self._prepare(input, (None, None) if hx is None else tuple(hx))
        if h is None:
            h = c = self._zeros(input)
        h, c = _LSTMStep.apply(self._project(input, True), h, c, self.weight_hh, None)
        if not batched:
            return _ops.squeeze(h, 0), _ops.squeeze(c, 0)
        return h, c


class GRUCell(RNNCellBase):
    """One GRU step; ``forward(input, h) -> h'``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, (hx,), batched = self._prepare(input, (hx,))
        h = _GRUStep.apply(self._project(input, False), self._zeros(input) if hx is None else hx,
                           self.weight_hh, self.bias_hh)
        return h if batched else _ops.squeeze(h, 0)
