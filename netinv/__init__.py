"""netinv: audit image classifiers by network inversion.

The core library: data, models, training, export, inversion and metrics, in plain
PyTorch/NumPy. It knows nothing of params.yaml, DVC, MLflow or Prefect; the `stages`
package wires it to those.
"""

__version__ = "0.1.0"
