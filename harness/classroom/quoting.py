"""Text that came from a submission, made safe for each place the grader writes it.

A submission decides its folder's name, its exceptions' messages and class names, and what its
notebook says; all of that reaches the feedback, the terminal and the gradebooks. Only the grader
writes headings, verdicts and formulas there, so such text is always quoted as data:

    printable(text)   control characters (new lines, ANSI escapes, bidirectional overrides) shown as
                      escapes, lone surrogates (a name that is not UTF-8) shown as \\udcXX, cut to a length
    code_span(text)   Markdown inline code around printable(text), fenced by more backticks than any
                      run inside it: no heading, list, link or HTML can start in it
    fenced(text)      the same as a fenced block, for lines to paste
    markdown_text(t)  printable(t) as Markdown text, every mark that could start markup escaped (names
                      from the teacher's lists, which read better as text than as code)
    csv_cell(value)   OWASP's CSV-injection rule: a text cell that starts with = + - @ tab or CR gets a
                      leading ' so that no spreadsheet runs it as a formula
    file_names(names) one file name per name: only letters, digits, . _ -, never starting with . or -,
                      unique (also where case does not count), never empty; letters such as æ, ø, å
                      transliterated (ae, o, a), not dropped
"""

import re
import unicodedata

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_QUOTED = 400


def printable(text, limit=MAX_QUOTED):
    """One line: control and formatting characters escaped, non-text code points escaped, at most limit characters."""
    text = str(text).encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates -> \udcXX
    text = CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    if limit is not None and len(text) > limit:
        text = text[:limit - 1] + "…"
    return text


def _fence_for(text, minimum):
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(minimum, longest + 1)


def code_span(text, limit=MAX_QUOTED):
    """Inline Markdown code holding printable(text)."""
    text = printable(text, limit)
    fence = _fence_for(text, 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(text, language=""):
    """A fenced Markdown block holding text line by line (each line printable, none longer than 500)."""
    lines = [printable(line, 500) for line in str(text).splitlines()]
    fence = _fence_for("\n".join(lines), 3)
    return "\n".join([fence + language, *lines, fence])


MARKDOWN_MARKS = re.compile(r"([\\`*_\[\]<>!&|~#])")


def markdown_text(text, limit=MAX_QUOTED):
    """printable(text) as Markdown text: \\ before every character that could start emphasis, code,
    a link, an image, HTML, a table cell or strike-through (CommonMark takes escaped marks literally)."""
    return MARKDOWN_MARKS.sub(r"\\\1", printable(text, limit))


def listed(items, limit=8):
    """"a, b, c and 4 more": a list cut where it is long, never silently."""
    items = [str(item) for item in items]
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def csv_cell(value):
    """value as a CSV cell: numbers as they are, text printable and never starting a formula."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = printable("" if value is None else value, limit=2000)
    return "'" + text if text.startswith(FORMULA_START) else text


# Letters that Unicode does not decompose into a base letter and a mark (å does: a + ring).
TRANSLITERATED = str.maketrans({"æ": "ae", "Æ": "Ae", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "Oe", "ß": "ss", "þ": "th",
                                "Þ": "Th", "ð": "d", "Ð": "D", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "ı": "i"})


def ascii_letters(text):
    """text with every letter written in ASCII where it has a usual spelling (Søreide -> Soreide, Åse -> Ase)."""
    return unicodedata.normalize("NFKD", str(text).translate(TRANSLITERATED)).encode("ascii", "ignore").decode("ascii")


def file_names(names):
    """{name: file name stem} for every name, safe and unique."""
    taken, result = set(), {}
    for name in names:
        stem = ascii_letters(printable(name, 80))
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).lstrip("._-").rstrip(".") or "submission"
        candidate, n = stem, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{stem}-{n}"
        taken.add(candidate.lower())
        result[name] = candidate
    return result
