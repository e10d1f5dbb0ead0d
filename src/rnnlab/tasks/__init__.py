"""Real tasks on real data, one command each: ``rnnlab train TASK``. Importing this package
registers every task module found here."""
import importlib
import pkgutil

from rnnlab.tasks.base import TASKS, RunDir, Task, TaskConfig, get_task, register_task, run_task

for _m in pkgutil.iter_modules(__path__):
    if _m.name not in ("base",) and not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["TASKS", "RunDir", "Task", "TaskConfig", "get_task", "register_task", "run_task"]
