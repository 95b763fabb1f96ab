"""The models: one recurrent class per task shape, each parametrised by the cell, LeNet-5, and a small
GPT-style causal Transformer for characters.

cells.py        make_rnn, rnn_step, detach_state, parameter counts
classifiers.py  RowClassifier (digits), LeNet5, ReviewClassifier (reviews)
charlm.py       CharLM, the recurrent character model
transformer.py  TransformerLM, the causal Transformer character model
dropout.py      Dropout, nn.Dropout with a mask drawn faster on the CPU
"""

from seqcompare.models.cells import (RNN_CLASSES, count_parameters, detach_state, make_rnn, rnn_step,
                                     textbook_parameters)
from seqcompare.models.charlm import CharLM, CharLMConfig
from seqcompare.models.classifiers import (POOLINGS, LeNet5, LeNetConfig, ReviewClassifier, ReviewClassifierConfig,
                                           RowClassifier, RowClassifierConfig)
from seqcompare.models.transformer import Block, CausalSelfAttention, TransformerLM, TransformerLMConfig

__all__ = ["RNN_CLASSES", "count_parameters", "detach_state", "make_rnn", "rnn_step", "textbook_parameters",
           "CharLM", "CharLMConfig", "POOLINGS", "LeNet5", "LeNetConfig", "ReviewClassifier",
           "ReviewClassifierConfig", "RowClassifier", "RowClassifierConfig", "Block", "CausalSelfAttention",
           "TransformerLM", "TransformerLMConfig"]
