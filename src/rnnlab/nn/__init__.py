"""The NumPy engine: cells, recurrent layers, layers, losses, optimisers and initialisers."""
from rnnlab.nn.module import Module
from rnnlab.nn.rnn import GRU, LSTM, RNN, RNNBase

__all__ = ["Module", "RNN", "LSTM", "GRU", "RNNBase"]
