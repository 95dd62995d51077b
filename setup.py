"""The compiled parts of shieldwall: the match index's batch look-ups (see _lookup.c),
the scan's block reader (_extract.c), ingest's array scanner and indicator
fast path (intel/_ingest.c) and the Suricata/Snort rule writers' loop
(formats/export/_rules.c).

Optional: without a C compiler the package installs and matching uses the
pure-Python path of the same look-ups (slower; `tests/match` checks that CI
has the compiled one; `tests/intel/test_compiled_ingest.py` the same for
ingest, whose Python path is the reference the compiled one is held to;
`tests/formats/export/test_compiled_rules.py` for the rule writers, likewise).
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
        Extension(
            "shieldwall.intel._ingest",
            sources=["src/shieldwall/intel/_ingest.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        ),
        Extension(
            "shieldwall.formats.export._rules",
            sources=["src/shieldwall/formats/export/_rules.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        ),
    ]
)
