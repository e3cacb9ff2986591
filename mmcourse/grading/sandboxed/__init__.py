"""Code that runs INSIDE a grading sandbox (bound read-only at a neutral path; see sandbox.py).

These two files import only the standard library and NumPy (plus nbclient to execute a notebook)
and never the rest of :mod:`mmcourse.grading`, which the sandbox hides.
"""
