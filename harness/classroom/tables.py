"""People's tables as Excel and Canvas write them: the one reader of the roster, the group set, the TA's
marks and the submission times.

    encoding   UTF-8 with or without a byte-order mark (Canvas; Excel's "CSV UTF-8"), UTF-16 with one
               (Excel's "Unicode Text"), else Windows-1252 (Excel's plain "CSV" on Windows) or Mac OS Roman
               (older Excel on a Mac), whichever reads as names; a file that is none of them, or an Excel
               workbook, is refused
    delimiter  comma, semicolon or tab, read from the header line: Excel in a Norwegian, German or French
               locale writes semicolons; a first line "sep=;" (Excel's own hint) is followed
    rows       rows of empty cells (Excel writes ";;;;" for a row it once formatted) are no rows; a row with
               more cells than the header is refused (an unquoted decimal comma in a comma-separated file
               shifts every cell after it; Excel writes every row as wide as its header)
    numbers    8.5 or 8,5 (the decimal comma of those locales): number()

Every refusal is an InputError: one sentence that names the file, says what is wrong and what to do.
"""

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}
MAX_TABLE_BYTES = 64 * 2**20  # a class's table is kilobytes; more is not one


class InputError(ValueError):
    """A file the teacher gave cannot be used as given; the message says which, why and what to do."""


@dataclass(frozen=True)
class Column:
    """A column a table needs (or may have), found by any of its names (case and spaces do not count)."""
    key: str
    names: tuple
    required: bool = True
    described: str = ""  # how a refusal names it, where one name does not say it

    def said(self):
        return self.described or f"{self.names[0]!r} column"


@dataclass
class Row:
    line: int        # the row's line in the file (1 is the header), as a spreadsheet numbers it
    cells: dict      # {column key: text, stripped}; "" where the row has none
    extra: dict = field(default_factory=dict)  # {header name: text} of the columns no Column names


@dataclass
class Table:
    path: Path
    encoding: str
    delimiter: str
    header: list
    rows: list
    found: set = field(default_factory=set)  # the keys of the columns found

    def described(self):
        return f"{self.path.name} ({self.encoding}, {DELIMITER_NAMES[self.delimiter]})"


def normal(name):
    """A header name as compared: no BOM, quotes or surrounding space, one space inside, lower case."""
    return re.sub(r"\s+", " ", str(name).replace("\ufeff", "").strip().strip('"').strip()).casefold()


def decode(data, path):
    """(text, encoding said) of a file's bytes; InputError when it is not text in an encoding Excel writes."""
    name = Path(path).name
    if data.startswith(b"PK\x03\x04"):
        raise InputError(f"{name} is an Excel workbook (.xlsx), not a CSV file: in Excel, save it with "
                         "File > Save As > CSV UTF-8 (or CSV) and give that file")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(f"{name} is an old Excel workbook (.xls), not a CSV file: save it as CSV UTF-8 and give that file")
    for bom, codec, said in ((codecs.BOM_UTF8, "utf-8", "UTF-8 with a byte-order mark"),
                             (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"), (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16")):
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec), said
            except UnicodeDecodeError as error:
                raise InputError(f"{name} starts as {said} but byte {error.start + len(bom)} is not: "
                                 "save it again as CSV UTF-8") from None
    if b"\x00" in data:
        raise InputError(f"{name} holds NUL bytes, so it is not a text table: give the CSV file itself (CSV UTF-8)")
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    readings = []
    for codec, said in (("cp1252", "Windows-1252"), ("mac_roman", "Mac OS Roman")):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        readings.append((_letters_score(text), -len(readings), text, said))
    best = max(readings, default=None)
    if best is None or best[0] < 0:
        raise InputError(f"{name} is neither UTF-8, Windows-1252 nor Mac OS Roman text: save it from Excel as CSV UTF-8")
    return best[2], best[3]


def _letters_score(text):
    """How much the non-ASCII characters of a decoding read as the letters of names (Søreide, Håkon):
    +1 for a letter, -1 for a symbol, a control character or a capital in the middle of a word. Excel
    on Windows writes Windows-1252 and older Excel on a Mac writes Mac OS Roman: the same bytes read as
    one of them give names (ø), as the other symbols (¿, ¯); a tie is Windows-1252."""
    score = 0
    for i, c in enumerate(text):
        if c.isascii():
            continue
        before, after = text[i - 1] if i else " ", text[i + 1] if i + 1 < len(text) else " "
        capital_inside = c.isupper() and before.isalpha() and after.islower()
        score += 1 if c.isalpha() and not capital_inside else -1
    return score


def _header_cells(line, delimiter):
    return next(csv.reader([line], delimiter=delimiter), [])


def sniff(header_line, columns):
    """The delimiter of a header line: the one under which the most required columns are found, then the
    one that splits it into the most cells (a header of one column has none: a comma)."""
    def score(delimiter):
        cells = {normal(cell) for cell in _header_cells(header_line, delimiter)}
        found = sum(any(normal(n) in cells for n in column.names) for column in columns if column.required)
        return found, len(cells)

    return max(DELIMITERS, key=score)


def read_table(path, what, columns, hint=""):
    """The Table of the CSV file at path (what it is, for messages: "the roster"); columns: [Column].
    InputError, naming the file and what to do, when it cannot be read or lacks a required column."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputError(f"{what} {str(path)!r} is not a file: give the CSV file itself")
        if size > MAX_TABLE_BYTES:
            raise InputError(f"{what} {path.name} is {size >> 20} MiB, far more than a class's table: give the CSV file itself")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {str(path)!r} does not exist: check the path") from None
    except OSError as error:
        raise InputError(f"{what} {str(path)!r} cannot be read ({error.strerror or error})") from None
    text, encoding = decode(data, path)
    lines = text.splitlines()
    delimiter = None
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise InputError(f"{what} {path.name} is empty: it needs a header row with {_names(columns)}{hint}")
    hinted = re.fullmatch(r'\s*"?sep=(.)"?\s*', lines[first])  # Excel's own first line: sep=;
    if hinted and hinted.group(1) in DELIMITERS:
        delimiter, first = hinted.group(1), first + 1
        while first < len(lines) and not lines[first].strip():
            first += 1
        if first >= len(lines):
            raise InputError(f"{what} {path.name} has no header row: it needs {_names(columns)}{hint}")
    delimiter = delimiter or sniff(lines[first], columns)
    reader = csv.reader(io.StringIO("\n".join(lines[first:])), delimiter=delimiter)
    try:
        header = next(reader)
        found, cells = {}, [normal(cell) for cell in header]
        for column in columns:  # each column by its first name the header has (ID before Student)
            index = next((cells.index(normal(n)) for n in column.names if normal(n) in cells and cells.index(normal(n))
                          not in found.values()), None)
            if index is not None:
                found[column.key] = index
        missing = [column for column in columns if column.required and column.key not in found]
        if missing:
            has = ", ".join(repr(cell.strip()) for cell in header if cell.strip()) or "no column names"
            raise InputError(f"{what} {path.name} has no {' and no '.join(c.said() for c in missing)} "
                             f"(it has {has}, read as {DELIMITER_NAMES[delimiter]}){hint}")
        named = set(found.values())
        rows = []
        for cells in reader:
            line = first + reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):  # Excel writes every row as wide as the header: a cell more is a shifted row
                raise InputError(f"{what} {path.name}: row {line} has {len(cells)} cells for {len(header)} columns: a decimal "
                                 f"comma in a file separated by commas? Write 8.5, or quote the cell (\"8,5\"), or save the "
                                 "file with semicolons")
            cells = cells + [""] * (len(header) - len(cells))
            rows.append(Row(line, {key: cells[index].strip() for key, index in found.items()},
                            {header[i].strip(): cells[i].strip() for i in range(len(header)) if i not in named}))
    except csv.Error as error:
        raise InputError(f"{what} {path.name} is not a well-formed CSV file ({error}, line {first + reader.line_num}): "
                         "save it again from Excel as CSV UTF-8") from None
    return Table(path, encoding, delimiter, [cell.strip() for cell in header], rows, set(found))


def _names(columns):
    return ", ".join(c.said() for c in columns if c.required)


NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)")


def number(text):
    """The number in a cell: 8.5 or 8,5 (a decimal comma); spaces (also Excel's no-break ones) ignored.
    ValueError for anything else (a thousands separator, a unit, a word)."""
    cleaned = re.sub(r"[\s\u00a0\u202f]", "", str(text))
    if not NUMBER.fullmatch(cleaned):
        raise ValueError(text)
    return float(cleaned.replace(",", "."))


def user_id(text):
    """A Canvas user id as a cell holds it, or None: digits only. Excel shows long numbers as 1.23E+13
    and saves them so; that is refused where it is read (ids_lost_to_excel)."""
    text = str(text).strip().lstrip("'")
    return text if text.isdigit() else None


def ids_lost_to_excel(text):
    """Whether a cell looks like a number Excel wrote in scientific notation (1.23457E+13, 1,23E+13)."""
    return bool(re.fullmatch(r"\s*\d+([.,]\d+)?[eE][+]?\d+\s*", str(text)))
