"""Every string a report writes into Markdown, an HTML comment or LaTeX, made inert.

A results folder may come from anyone, and its strings reach the report: a run's `reason`, a folder
name, a `multirun.yaml` override, a config value used as a row label. In Markdown a `<script>` or a
`|` would become markup, in an HTML comment a `-->` would end it, in LaTeX a newline would end the
`%` comment and `\\input{...}` would run. So every such string is first made one line (control and
line-separator characters shown as escapes, never kept), then escaped for where it goes.
"""

from __future__ import annotations

import re

_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control characters, line and paragraph separators, and bidirectional overrides."""


def one_line(text: object) -> str:
    """`text` on one line: every control, line-separator or direction-override character shown as an escape
    (a newline becomes the two characters `\\n`), so nothing that follows can start a new line of markup."""
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return _INVISIBLE.sub(lambda m: named.get(m.group(), f"\\u{ord(m.group()):04x}"), str(text))


_MARKDOWN = re.compile(r"&(?=#?\w+;)|[<>\\`*\[\]|#~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_MARKDOWN_AS = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def markdown(text: object) -> str:
    """Plain text in Markdown (a table cell, a list item): HTML and Markdown syntax shown, not applied.
    `_` inside a word (`cot_no_dropout`) is left alone: it never starts emphasis there."""
    return _MARKDOWN.sub(lambda m: _MARKDOWN_AS.get(m.group(), "\\" + m.group()), one_line(text))


def code(text: object, in_table: bool = False) -> str:
    """`text` as a Markdown code span (shown verbatim, never markup), fenced by more backticks than it holds;
    in a table a `|` would still split the cell, so there it is escaped."""
    content = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {content} " if content.startswith("`") or content.endswith("`") or not content.strip() else content
    if in_table:
        padded = padded.replace("|", "\\|")
    return f"{fence}{padded}{fence}"


def html_comment(text: object) -> str:
    """Text inside `<!-- ... -->`: one line, and no `>` (so neither `-->` nor `--!>` can end the comment early)."""
    return one_line(text).replace(">", "&gt;")


_LATEX = re.compile("J\u0304|[\\\\{}$&#^_%~±≈α—]")
_LATEX_AS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
    "±": r"$\pm$",
    "≈": r"$\approx$",
    "α": r"$\alpha$",
    "—": "--",
    "J\u0304": r"$\bar J$",
}


def latex(text: object) -> str:
    """Plain text in LaTeX: every special character escaped in one pass, on one line."""
    return _LATEX.sub(lambda m: _LATEX_AS[m.group()], one_line(text))


def latex_comment(text: object) -> str:
    """A `%` comment line: on one line, everything after `%` stays a comment, whatever it holds."""
    return "% " + one_line(text)


def latex_label(text: object) -> str:
    """A `\\label{...}` key: letters, digits and `:._-` only."""
    return re.sub(r"[^A-Za-z0-9:._-]", "-", str(text))
