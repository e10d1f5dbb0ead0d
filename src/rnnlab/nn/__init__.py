"""The NumPy engine: cells, recurrent layers, layers, losses, optimisers and initialisers."""
from rnnlab.nn.feedback import FeedbackRNN
from rnnlab.nn.layers import Dense, Dropout, Embedding
from rnnlab.nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from rnnlab.nn.module import Module
from rnnlab.nn.optim import SGD, Adam, AdamW, RMSprop, apply_max_norm, clip_grad_norm
from rnnlab.nn.rnn import GRU, LSTM, RNN, RNNBase

__all__ = ["Module", "RNN", "LSTM", "GRU", "RNNBase", "FeedbackRNN", "Dense", "Dropout", "Embedding",
           "MSELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "SGD", "RMSprop", "Adam", "AdamW",
           "clip_grad_norm", "apply_max_norm"]
