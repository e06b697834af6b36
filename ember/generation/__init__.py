"""Text generation (``transformers.generation`` semantics): ``GenerationConfig``,
``GenerationMixin.generate`` (greedy, sampling, beam search), logits processors, stopping
criteria and streamers. See ``utils.py`` for ``generate`` and ``session.py`` for the decoding
session a model provides.
"""
from __future__ import annotations

from .configuration_utils import GenerationConfig, GenerationMode
from .logits_process import (
    LogitNormalization, LogitsProcessor, LogitsProcessorList, MinLengthLogitsProcessor,
    MinNewTokensLengthLogitsProcessor, NoBadWordsLogitsProcessor, NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper,
    TopPLogitsWarper,
)
from .session import DecoderSession
from .stopping_criteria import (
    EosTokenCriteria, MaxLengthCriteria, MaxTimeCriteria, StoppingCriteria,
    StoppingCriteriaList, StopStringCriteria,
)
from .streamers import BaseStreamer, TextIteratorStreamer, TextStreamer
from .utils import (
    GenerateBeamDecoderOnlyOutput, GenerateDecoderOnlyOutput, GenerationMixin, ModelSession,
)

__all__ = [
    "BaseStreamer", "DecoderSession", "EosTokenCriteria", "GenerateBeamDecoderOnlyOutput",
    "GenerateDecoderOnlyOutput", "GenerationConfig", "GenerationMixin", "GenerationMode",
    "LogitNormalization", "LogitsProcessor", "LogitsProcessorList", "MaxLengthCriteria",
    "MaxTimeCriteria", "MinLengthLogitsProcessor", "MinNewTokensLengthLogitsProcessor",
    "ModelSession", "NoBadWordsLogitsProcessor", "NoRepeatNGramLogitsProcessor",
    "RepetitionPenaltyLogitsProcessor", "StopStringCriteria", "StoppingCriteria",
    "StoppingCriteriaList", "TemperatureLogitsWarper", "TextIteratorStreamer", "TextStreamer",
    "TopKLogitsWarper", "TopPLogitsWarper",
]
