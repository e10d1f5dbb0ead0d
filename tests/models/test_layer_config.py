"""Layer configs: every supported layer rebuilds with the same parameter shapes from plain JSON."""
import json

import numpy as np
import pytest

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.models.layer_config import layer_config, layer_from_config, layer_label

LAYERS = {
    "embedding": lambda: nn.Embedding(11, 3, padding_idx=-1),
    "dense_no_bias": lambda: nn.Dense(4, 2, bias=False, dtype=np.float64),
    "dropout": lambda: nn.Dropout(0.25),
    "rnn_relu": lambda: nn.RNN(3, 4, nonlinearity="relu", return_sequences=False),
    "lstm_stacked_bi": lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True, dropout=0.1),
    "gru_no_bias": lambda: nn.GRU(3, 4, bias=False),
    "feedback": lambda: nn.FeedbackRNN(2, 5, input_size=1, nonlinearity="sigmoid"),
}


@pytest.mark.parametrize("name", LAYERS)
def test_config_round_trip_rebuilds_the_same_shapes(name):
    layer = LAYERS[name]()
    cfg = json.loads(json.dumps(layer_config(layer)))      # must survive JSON unchanged
    back = layer_from_config(cfg)
    assert type(back) is type(layer) and layer_config(back) == cfg
    assert {k: (v.shape, v.dtype) for k, v in back.params.items()} == \
        {k: (v.shape, v.dtype) for k, v in layer.params.items()}
    assert layer_label(layer)


@pytest.mark.parametrize("cfg, match", [
    ({"class": "Conv1d"}, "unknown layer 'Conv1d'"),
    ("LSTM", "unknown layer"),
    ({"class": "Dense", "in_features": 2, "out_features": 2, "dtype": "float7"}, "unknown dtype"),
    ({"class": "Dense", "in_features": 2}, "does not match its arguments"),
], ids=["unknown_class", "not_a_dict", "bad_dtype", "missing_argument"])
def test_bad_configs(cfg, match):
    with pytest.raises(RnnlabError, match=match):
        layer_from_config(cfg)
