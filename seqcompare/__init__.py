"""seqcompare: RNN, LSTM and GRU (and LeNet-5) side by side on three real tasks."""

__version__ = "0.1.0"

CELLS = ("rnn", "lstm", "gru")


class UserError(Exception):
    """A problem the user can fix (bad input, missing data); shown as one line, never a traceback."""
