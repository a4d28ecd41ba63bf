"""The one loader: files and folders -> documents with plain data and exact positions.

One concern per module: :mod:`~auditor.load.discover` (finding the files), :mod:`~auditor.load.decode`
(bytes to text), :mod:`~auditor.load.compose` (YAML composition into data and positions),
:mod:`~auditor.load.document` (documents, their position table, raw resources, the load result),
:mod:`~auditor.load.source` (input files, load problems, limits), :mod:`~auditor.load.resources`
(resources inside documents) and :mod:`~auditor.load.reader` (:func:`load` and friends).

Anything wrong with a file (syntax errors, undecodable bytes, templates, duplicate keys, limits)
becomes a :class:`LoadProblem` for that file; the rest of the input is still loaded.
"""

from auditor.load.compose import BOOL_WORDS, TEMPLATE_HINT, parse_text
from auditor.load.decode import decode
from auditor.load.discover import SKIP_DIRS, YAML_SUFFIXES, Candidate, Renderer, discover, display_path, read_file
from auditor.load.document import Document, LoadResult, Origin, RawResource, RenderedDocument
from auditor.load.reader import (
    ParseCache,
    add_documents,
    add_file,
    load,
    load_texts,
    parse_cached,
    parse_text_cached,
)
from auditor.load.resources import resources_of
from auditor.load.source import LINE_BREAK, Limits, LoadProblem, SourceFile

__all__ = [
    "BOOL_WORDS",
    "LINE_BREAK",
    "SKIP_DIRS",
    "TEMPLATE_HINT",
    "YAML_SUFFIXES",
    "Candidate",
    "Document",
    "Limits",
    "LoadProblem",
    "LoadResult",
    "Origin",
    "ParseCache",
    "RawResource",
    "RenderedDocument",
    "Renderer",
    "SourceFile",
    "add_documents",
    "add_file",
    "decode",
    "discover",
    "display_path",
    "load",
    "load_texts",
    "parse_cached",
    "parse_text",
    "parse_text_cached",
    "read_file",
    "resources_of",
]
