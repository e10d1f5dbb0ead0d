"""Trainable models on the NumPy engine and the folder format they are saved in."""
from rnnlab.models.base import Model, register
from rnnlab.models.callbacks import (Callback, CosineLR, CSVLogger, EarlyStopping, LambdaCallback,
                                     ReduceLROnPlateau, StepLR)
from rnnlab.models.forecast import Forecaster
from rnnlab.models.history import History
from rnnlab.models.io import load, save
from rnnlab.models.sequential import Sequential
from rnnlab.models.training import Trainer, fit

__all__ = ["Model", "register", "load", "save", "Sequential", "Forecaster", "fit", "Trainer", "History",
           "Callback", "EarlyStopping", "StepLR", "CosineLR", "ReduceLROnPlateau", "CSVLogger", "LambdaCallback"]
