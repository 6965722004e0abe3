"""Maps the repository's top-level folders onto the one import package `headwater`.

`connectors/`, `codecs/`, `sinks/` and `conformance/` become `headwater.connectors`,
`headwater.codecs`, ... (`headwater` is a namespace package), so `headwater.codecs`
never shadows Python's own `codecs`. `examples/` ships as data in `headwater/examples`.
Everything else lives in pyproject.toml.

One optional C extension, the compiled core of the copybook batch decoder
(`codecs/copybook/_cdecode.c`): built when a C compiler is there, skipped with a warning
when not (the numpy path then decodes everything; see headwater.codecs.copybook.native).
"""

from setuptools import Extension, find_packages, setup

FOLDERS = ("connectors", "codecs", "sinks", "conformance")

setup(
    package_dir={**{f"headwater.{folder}": folder for folder in FOLDERS}, "headwater.examples": "examples"},
    packages=[
        *(f"headwater.{package}" for package in find_packages(include=[f"{folder}*" for folder in FOLDERS])),
        # The README's example files, beside the code (`headwater examples DIR` copies them out).
        "headwater.examples",
    ],
    ext_modules=[
        Extension(
            "headwater.codecs.copybook._cdecode",
            sources=["codecs/copybook/_cdecode.c"],
            optional=True,
        )
    ],
)
