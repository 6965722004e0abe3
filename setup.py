"""Maps the repository's top-level folders onto the one import package `headwater`.

`connectors/`, `codecs/`, `sinks/` and `conformance/` become `headwater.connectors`,
`headwater.codecs`, ... (`headwater` is a namespace package), so `headwater.codecs`
never shadows Python's own `codecs`. `examples/` ships as data in `headwater/examples`.
Everything else lives in pyproject.toml.

Three optional C extensions, each built when a C compiler is there and skipped with a warning
when not: the compiled core of the copybook batch decoder (`codecs/copybook/_cdecode.c`; the
numpy path then decodes everything, see headwater.codecs.copybook.native), the one-pass
reader of LogMiner's SQL_REDO shapes (`codecs/oracle/_credo.c`; the regular expressions of
headwater.codecs.oracle.redo then read everything) and the JSON writer of schema'd structs
(`codecs/_cjson.c`; the generated encoders and orjson then write everything, see
headwater.codecs.jsonwrite).
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
        ),
        Extension(
            "headwater.codecs.oracle._credo",
            sources=["codecs/oracle/_credo.c"],
            optional=True,
        ),
        Extension(
            "headwater.codecs._cjson",
            sources=["codecs/_cjson.c"],
            optional=True,
        ),
    ],
)
