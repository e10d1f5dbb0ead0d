"""Data: synthetic benchmark tasks, loaders, padding and vocabularies."""
from rnnlab.data.synthetic import adding_problem, copy_task

__all__ = ["adding_problem", "copy_task"]
