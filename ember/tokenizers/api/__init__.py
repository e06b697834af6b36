"""The transformers-style tokenizer API on ember's ``Tokenizer``: ``BatchEncoding``,
``PreTrainedTokenizerBase`` (call/pad/decode semantics, config), ``PreTrainedTokenizerFast``
(the backend), BERT/GPT-2 classes, and folder loading/saving."""
