"""Text generation: character language models (RNN, LSTM, GRU and a causal Transformer) trained on
ChnSentiCorp hotel reviews.

corpus.py   the reviews as one character stream: split, vocabulary, batches
train.py    the recipes, training and scoring (bits per character)
decode.py   sampling settings, sampling, batched decoding, beam search
serve.py    TextModels: the shipped models loaded once, answering requests; evaluate
writer.py   Writer: a server's requests written on one thread, arrivals joining between steps
summary.py  the README's paragraph on the measured numbers
"""

from seqcompare.textgen.corpus import (BPTT, END, END_SHOWN, MIN_COUNT, UNK, VOCAB_FILE, Vocab, clean, corpus, load_vocab,
                                       random_windows, shift, shown, split_reviews, streams, windows)
from seqcompare.textgen.decode import (GREEDY_BELOW, MAX_BEAMS, MAX_LENGTH, MAX_SEED, MAX_TEXT, Draw, beam_search, candidates,
                                       check_settings, clean_seed, cut, decode, pick, pick_each, pick_rows, prompt,
                                       read_text, sample, sample_many, whole, write_many)
from seqcompare.textgen.serve import TextModels, evaluate, load_models
from seqcompare.textgen.summary import summary
from seqcompare.textgen.writer import Writer
from seqcompare.textgen.train import (ARCH, MODELS, RECIPE, SPECS, TRANSFORMER_ARCH, TRANSFORMER_RECIPE, StatefulLoss,
                                      StreamReading, TextModel, WindowReading, architecture, build, fit_model,
                                      reading_of, recipe, score_text, train, window_loss)

__all__ = ["BPTT", "END", "END_SHOWN", "shown", "MIN_COUNT", "UNK", "VOCAB_FILE", "Vocab", "clean", "corpus", "load_vocab", "random_windows", "shift",
           "split_reviews", "streams", "windows", "GREEDY_BELOW", "MAX_BEAMS", "MAX_LENGTH", "MAX_SEED", "MAX_TEXT", "Draw",
           "beam_search", "candidates", "check_settings", "clean_seed", "cut", "decode", "pick", "pick_each",
           "pick_rows", "prompt", "read_text", "sample", "sample_many", "whole", "write_many", "TextModels", "evaluate", "load_models",
           "summary", "Writer", "ARCH", "MODELS", "RECIPE", "SPECS", "TRANSFORMER_ARCH", "TRANSFORMER_RECIPE",
           "StatefulLoss", "StreamReading", "TextModel", "WindowReading", "architecture", "build", "fit_model",
           "reading_of", "recipe", "score_text", "train", "window_loss"]
