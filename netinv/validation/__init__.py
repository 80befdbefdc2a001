"""Great Expectations suites over per-image tables, with a severity for each check.

`great_expectations` takes seconds to import, so only the functions that run a suite
import it; building the tables is plain NumPy/pandas.
"""
