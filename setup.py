"""The compiled parts of shieldwall: the match index's batch look-ups (see _lookup.c)
and the scan's block reader (_extract.c).

Optional: without a C compiler the package installs and matching uses the
pure-Python path of the same look-ups (slower; `tests/match` checks that CI
has the compiled one).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "shieldwall.match._lookup",
            sources=["src/shieldwall/match/_lookup.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        ),
        Extension(
            "shieldwall.match._extract",
            sources=["src/shieldwall/match/_extract.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        ),
    ]
)
