"""Ceph's S3 compatibility suite (github ceph/s3-tests) against the S3 gateway.

``python tests/s3compat/run.py`` runs it; README.md beside this file says how, and how the
suite's bucket names are mapped onto ``BRANCH.REPO``. Nothing here may import the suite's
code: the suite runs in its own venv and pytest, with :mod:`s3compat.plugin` loaded into it.
"""
