"""Reports of the other two questions (weights, training logs) as the tools'
JSON: a dict, that also renders itself as text and HTML."""

import json


class Report(dict):
    """The tool's JSON report (docs/tools-contract.md) as a dict; to_text() is
    what the tool prints, to_html() its page (shown inline by Jupyter), and
    exit_code the tool's exit code (0 nothing wrong, 1 something found)."""

    def __init__(self, rendered):
        super().__init__(json.loads(rendered.json))
        self._text = rendered.text
        self._html = rendered.html
        self.exit_code = rendered.exit_code

    def to_text(self):
        return self._text

    def to_json(self):
        return json.dumps(self)

    def to_html(self):
        return self._html

    def _repr_html_(self):
        return self._html


def _paths(paths):
    if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
        paths = [paths]
    out = [str(p) for p in paths]
    if not out:
        raise ValueError("no path given")
    return out
