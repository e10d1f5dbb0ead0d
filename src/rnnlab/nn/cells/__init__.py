"""Recurrent cells. Each provides ``workspace``, ``step`` and ``step_backward``; ``Recurrent`` runs the loop."""
from rnnlab.nn.cells.elman import ElmanCell
from rnnlab.nn.cells.gru import GRUCell
from rnnlab.nn.cells.lstm import LSTMCell

CELLS = {"rnn": ElmanCell, "lstm": LSTMCell, "gru": GRUCell}
__all__ = ["ElmanCell", "GRUCell", "LSTMCell", "CELLS"]
