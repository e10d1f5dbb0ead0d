"""rnnlab: recurrent neural networks with every equation written by hand."""
from rnnlab import nn
from rnnlab.errors import RnnlabError, NotFittedError

__version__ = "0.1.0"
__all__ = ["nn", "RnnlabError", "NotFittedError", "__version__"]
