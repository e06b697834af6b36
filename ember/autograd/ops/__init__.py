"""The differentiable ops, as functions (``ember.exp(x)``) and as Tensor methods (``x.exp()``)."""
from __future__ import annotations

from ..printing import set_printoptions  # noqa: F401  (exported as ember.set_printoptions)
from ..tensor import Tensor
from . import tensor_methods as _tensor_methods
from .arithmetic import (  # noqa: F401
    add, allclose, bitwise_and, bitwise_not, bitwise_or, clamp, clamp_max, clamp_min, clip, div,
    eq, equal, floor_divide, ge, greater, greater_equal, gt, isclose, le, less, less_equal,
    logical_and, logical_not, logical_or, logical_xor, lt, masked_fill, maximum, minimum, mul, ne,
    neg, not_equal, pow, remainder, rsub, sub, where,
)
from .convert import cast, clone, copy_from, full_like_grad  # noqa: F401
from .counting import (  # noqa: F401
    bincount, bucketize, histc, searchsorted, unique, unique_consecutive,
)
from .diagonal import diag, diag_embed, diagonal, tril_indices, trace, triu_indices  # noqa: F401
from .indexing import (  # noqa: F401
    argwhere, gather, getitem, index_put, index_select, masked_select, nonzero, normalize_index,
    scatter, scatter_add, take_along_dim,
)
from .indexed import index_add, index_copy, index_fill, masked_scatter, take  # noqa: F401
from .layout import (  # noqa: F401
    atleast_1d, atleast_2d, atleast_3d, broadcast_shapes, broadcast_tensors, cartesian_prod,
    column_stack, dstack, meshgrid, rot90,
)
from .layout import unfold as _unfold
from .linalg import bmm, dot, einsum, ger, matmul, mm, mv, outer  # noqa: F401
from .pointwise import (  # noqa: F401
    addcdiv, addcmul, exp2, fmod, lerp, logaddexp, logsigmoid, xlogy,
)
from .products import (  # noqa: F401
    addbmm, addmm, addmv, addr, baddbmm, cdist, kron, tensordot,
)
from .reduction import (  # noqa: F401
    all, amax, amin, any, argmax, argmin, argsort, count_nonzero, cumsum, logsumexp, max, mean,
    min, norm, prod, sort, std, std_mean, sum, topk, var, var_mean,
)
from .shape import (  # noqa: F401
    broadcast_to, cat, chunk, concat, concatenate, expand, expand_as, flatten, flip, hstack,
    movedim, moveaxis, narrow, pad, permute, repeat, repeat_interleave, reshape, roll, split,
    squeeze, stack, swapaxes, swapdims, t, tensor_split, transpose, tril, triu, unbind, unflatten,
    unsqueeze, view, vstack,
)
from .scans import cummax, cummin, cumprod, diff  # noqa: F401
from .softmax import log_softmax, softmax  # noqa: F401
from .stats import (  # noqa: F401
    aminmax, median, nanmean, nanmedian, nanquantile, nansum, quantile,
)
from .trig import (  # noqa: F401
    acos, arccos, arcsin, arctan, arctan2, asin, atan, atan2, cosh, hypot, sinh,
)
from .unary import (  # noqa: F401
    abs, absolute, ceil, cos, elu, erf, exp, expm1, floor, gelu, isfinite, isinf, isnan,
    leaky_relu, log, log1p, log2, log10, nan_to_num, reciprocal, relu, round, rsqrt, sigmoid,
    sign, silu, sin, softplus, sqrt, square, tanh, trunc,
)

# Tensor methods that are the op of the same name with the tensor as first argument.
_METHODS = """
abs absolute all allclose amax amin any argmax argmin argsort bmm ceil chunk clamp clamp_max
clamp_min clip cos count_nonzero cumsum dot eq equal erf exp expand expand_as expm1 flatten flip
floor gather ge greater greater_equal gt index_select isclose isfinite isinf isnan le less
less_equal log log1p log2 log10 log_softmax logical_and logical_not logical_or logical_xor
logsumexp lt masked_fill masked_select matmul max maximum mean min minimum mm moveaxis movedim
mv nan_to_num narrow ne neg nonzero norm not_equal outer permute prod reciprocal relu remainder
repeat repeat_interleave reshape roll round rsqrt scatter scatter_add sigmoid sign sin softmax
sort split sqrt square squeeze std sum swapaxes swapdims t tanh tensor_split topk transpose
tril triu trunc unbind unflatten unsqueeze var view where
acos addbmm addcdiv addcmul addmm addmv addr aminmax arccos arcsin arctan arctan2 asin atan atan2
baddbmm bincount cosh cummax cummin cumprod diag diag_embed diagonal diff exp2 fmod histc hypot
index_add index_copy index_fill kron lerp logaddexp masked_scatter median nanmean nanmedian
nanquantile nansum quantile rot90 sinh take trace unique unique_consecutive xlogy
""".split()


def _where_method(self, condition, other):
    return where(condition, self, other)


def _install() -> None:
    g = globals()
    for name in _METHODS:
        setattr(Tensor, name, g[name])
    Tensor.where = _where_method
    Tensor.negative = neg
    Tensor.view_as = lambda self, other: reshape(self, tuple(other.shape))
    Tensor.reshape_as = Tensor.view_as
    Tensor.softplus = softplus
    Tensor.silu = silu
    Tensor.gelu = gelu
    Tensor.unfold = _unfold
    for name in _tensor_methods.__all__:
        setattr(Tensor, name, getattr(_tensor_methods, name))


_install()

__all__ = sorted(n for n, v in globals().items()
                 if callable(v) and not n.startswith("_") and n != "Tensor"
                 and getattr(v, "__module__", "").startswith(__name__)) + ["set_printoptions"]
