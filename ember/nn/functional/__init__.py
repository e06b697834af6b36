"""``ember.nn.functional``: stateless layers, as ``torch.nn.functional``."""
from __future__ import annotations

from ...autograd.ops import (  # noqa: F401
    elu, gelu, leaky_relu, log_softmax, logsigmoid, pad, relu, sigmoid, silu, softmax, softplus,
    tanh,
)
from .attention import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
