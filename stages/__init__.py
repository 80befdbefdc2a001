"""DVC stage entry points, one module per stage, each run as `python -m stages.NAME`.

A stage reads its section of params.yaml into a typed config, calls the `netinv`
library, writes its outputs atomically, and logs to MLflow. Paths come from the
command line, which dvc.yaml writes, so each path is spelled once.
"""
